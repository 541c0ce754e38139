/**
 * Asking the operator for a `source: prompt` variable on the terminal (docs/settings.md#variables). Sensitive
 * values are read without echo. Without a terminal on stdin the prompt fails instead of blocking.
 */
import { createInterface } from 'node:readline';
import { CodedError } from '../core/errors.js';

/** Asks `question` and resolves with one line of input (without the line end). */
export type PromptFunction = (question: string, sensitive: boolean) => Promise<string>;

export class PromptUnavailableError extends CodedError<'ERR_SETTINGS_PROMPT_UNAVAILABLE'> {
  constructor() {
    super('ERR_SETTINGS_PROMPT_UNAVAILABLE', 'prompt variables need a terminal (stdin is not a TTY)');
    this.name = 'PromptUnavailableError';
  }
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

function readHiddenLine(): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stdout.write('\n');
      if (error !== undefined) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === CTRL_C || char === CTRL_D) return finish(new Error('prompt cancelled'));
        if (BACKSPACE.has(char)) line = line.slice(0, -1);
        else line += char;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

function readVisibleLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  return new Promise((resolve, reject) => {
    rl.once('close', () => reject(new Error('prompt cancelled')));
    rl.question(question, (answer) => {
      rl.removeAllListeners('close');
      rl.close();
      resolve(answer);
    });
  });
}

/** The default prompt: stdout for the question, the terminal on stdin for the answer. */
export const terminalPrompt: PromptFunction = async (question, sensitive) => {
  if (!process.stdin.isTTY) throw new PromptUnavailableError();
  if (!sensitive) return readVisibleLine(question);
  process.stdout.write(question);
  return readHiddenLine();
};
