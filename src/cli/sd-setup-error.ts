/** The failure `sd-setup` reports as a plain message (its own module: sd-setup.ts runs on import). */
import { CodedError } from '../core/errors.js';

export class SetupError extends CodedError<'ERR_CLI_SETUP'> {
  override readonly name = 'SetupError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_CLI_SETUP', message, options);
  }
}
