/** The permissions: `Media_r` (watch, read settings), `Media_rw` (also change media settings), plus `Admin` for system settings. */
export const PERMISSIONS = ['Media_r', 'Media_rw', 'Admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Who is asking. `SYSTEM` is the daemon itself (plugins acting on their own behalf). */
export interface Caller {
  readonly username: string;
  readonly permissions: readonly Permission[];
}

export const SYSTEM: Caller = Object.freeze({ username: '<system>', permissions: Object.freeze(['Admin'] as Permission[]) });

export const MEDIA_READ: readonly Permission[] = Object.freeze(['Media_r', 'Media_rw'] as Permission[]);
export const MEDIA_WRITE: readonly Permission[] = Object.freeze(['Media_rw'] as Permission[]);
export const ADMIN_ONLY: readonly Permission[] = Object.freeze(['Admin'] as Permission[]);

export function isPermission(v: unknown): v is Permission {
  return typeof v === 'string' && (PERMISSIONS as readonly string[]).includes(v);
}

/**
 * True when the caller holds one of `required`. `Admin` satisfies any non-empty requirement; an
 * empty requirement (`permissionWrite: []`, a read-only key such as `rtspPath`) is satisfied by nobody, not even Admin.
 */
export function allows(caller: Caller, required: readonly Permission[]): boolean {
  if (required.length === 0) return false;
  if (caller.permissions.includes('Admin')) return true;
  return required.some((p) => caller.permissions.includes(p));
}
