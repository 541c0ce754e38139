/** RFC 3339 timestamps in the server's local offset, as Go's time.RFC3339Nano prints them. */
function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function rfc3339Local(date = new Date()): string {
  const offsetMin = -date.getTimezoneOffset();
  let frac = pad(date.getMilliseconds(), 3).replace(/0+$/, '');
  frac = frac ? '.' + frac : '';
  const base =
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${frac}`;
  return base + formatOffset(offsetMin);
}

/** An RFC 3339 offset: `Z` for UTC, otherwise `+hh:mm` / `-hh:mm`. */
export function formatOffset(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'Z';
  const abs = Math.abs(offsetMinutes);
  return `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
