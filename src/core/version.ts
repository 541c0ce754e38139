/** Build version reported by `version` and `_ping` (the original's default is `development`). */
export const VERSION = process.env.EPS_VERSION ?? 'development';
