/** Directory backends by settings `type`. */
import { ApiDirectory, type ApiDirectoryOptions } from '../directory/api-directory.js';
import type { Directory } from '../directory/directory.js';
import { JsonDirectory } from '../directory/json-directory.js';
import type { DirectorySettings } from '../settings/index.js';

export type { DirectorySettings } from '../settings/index.js';

export function createDirectory(
  _ownName: string,
  settings: DirectorySettings,
  options: ApiDirectoryOptions = {},
): Directory {
  switch (settings.type) {
    case 'json':
      return new JsonDirectory(settings.settings.path);
    case 'api':
      return new ApiDirectory(settings.settings, options);
  }
}
