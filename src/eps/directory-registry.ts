/** Directory backends by settings `type`. */
import type { Directory } from '../directory/directory.js';
import { JsonDirectory } from '../directory/json-directory.js';

export type DirectorySettings =
  { type: 'json'; settings: { path: string } } | { type: 'api'; settings: object };

export function createDirectory(_ownName: string, settings: DirectorySettings): Directory {
  switch (settings.type) {
    case 'json':
      return new JsonDirectory(settings.settings.path);
    case 'api':
      throw new Error('the api directory is not available yet');
  }
}
