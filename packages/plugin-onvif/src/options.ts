export interface OnvifOptions {
  /** UDP port for WS-Discovery (3702); 0 turns discovery off. */
  discoveryPort: number;
  /** Multicast group of WS-Discovery. */
  discoveryAddress: string;
  /** Local address of the interface to join the group on (default: the system's choice). */
  discoveryInterface?: string;
  /** Device information shown to NVRs. */
  manufacturer: string;
  model: string;
  hardwareId: string;
}

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    discoveryPort: { type: 'integer', minimum: 0, maximum: 65535, default: 3702 },
    discoveryAddress: { type: 'string', default: '239.255.255.250' },
    discoveryInterface: { type: 'string' },
    manufacturer: { type: 'string', maxLength: 64, default: 'camd' },
    model: { type: 'string', maxLength: 64, default: 'camd' },
    hardwareId: { type: 'string', maxLength: 64, default: 'camd' },
  },
} as const;
