/** gst-launch quoting for a property value. */
export function quote(value: string): string {
  return /^[\w./:-]+$/.test(value) ? value : `"${value.replace(/(["\\])/g, '\\$1')}"`;
}
