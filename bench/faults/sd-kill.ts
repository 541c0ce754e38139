/**
 * `sd-kill-9`: an sd with the file store is killed with SIGKILL while submissions stream in, `kills` times.
 * After each restart every acknowledged record must be served again, in order. A kill "lands during a write"
 * when a submission was on its way at that moment; whether that record was stored anyway (the kill came
 * after the write but before the answer) or not is counted too, which shows kills on both sides of the write,
 * and so are kills inside the append itself (the store's lock file, held only while appending, is left).
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LOCK_SUFFIX } from '../../src/datastore/file-store.js';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import {
  change,
  ensureTestPki,
  loadSigner,
  sign,
  startSd,
  writeSdSettings,
  type RunningSd,
} from '../../test/helpers/sd-harness.js';
import { withDeadline } from '../../test/helpers/wait.js';
import type { FaultContext, ScenarioResult } from './context.js';

export interface SdKillFigures {
  kills: number;
  acknowledged: number;
  lost: number;
  /** Kills with a submission sent and not yet answered. */
  duringWrite: number;
  /** Of those, submissions stored although never acknowledged. */
  storedUnacknowledged: number;
  /** Kills that left the store's lock file behind: the process died inside an append (lock held). */
  insideAppend: number;
  /** Restarts that logged a torn tail (a write cut short) and repaired it. */
  tornTails: number;
}

/** The most submissions acknowledged in one round before the kill. */
const MAX_SUBMISSIONS_PER_ROUND = 30;

export async function sdKillRounds(dir: string, kills: number, log: string): Promise<SdKillFigures> {
  await ensureTestPki();
  const admin = loadSigner('hd-1-sign');
  const store = join(dir, 'store', 'sd.records');
  const settings = writeSdSettings(join(dir, 'settings'), { store: { type: 'file', filename: store } });
  const figures: SdKillFigures = {
    kills: 0,
    acknowledged: 0,
    lost: 0,
    duringWrite: 0,
    storedUnacknowledged: 0,
    insideAppend: 0,
    tornTails: 0,
  };
  const acked: SignedChangeRecord[] = [];
  let sd: RunningSd = await startSd(settings);
  let parent = '';
  let n = 0;
  for (let round = 0; round < kills; round++) {
    const submitted = 1 + Math.floor(Math.random() * MAX_SUBMISSIONS_PER_ROUND);
    let inFlight: SignedChangeRecord | undefined;
    let answered: Promise<unknown> | undefined;
    for (let i = 0; answered === undefined; i++) {
      const records = sign([change(`op-${n++}`, 'groups', [`g${round}`])], parent, admin);
      const call = sd.client.call('submitRecords', { records: records as never });
      if (i < submitted) {
        const reply = await withDeadline(call, { timeoutMs: 10_000, what: 'submitRecords' });
        if (reply.body.result !== 'ok') throw new Error(`submission refused: ${JSON.stringify(reply.body)}`);
        acked.push(...records);
        parent = records[0]!.hash;
        continue;
      }
      // The kill lands while this submission is somewhere between the socket and the answer.
      let done = false;
      answered = call.then(
        () => (done = true),
        () => undefined,
      );
      await delay(Math.random() * 4);
      if (!done) {
        figures.duringWrite++;
        inFlight = records[0];
      }
      sd.process.child.kill('SIGKILL');
    }
    await withDeadline(answered, { timeoutMs: 10_000, what: 'the killed submission to end' });
    figures.kills++;
    await sd.stop();
    if (existsSync(store + LOCK_SUFFIX)) figures.insideAppend++;
    appendFileSync(log, sd.process.output());
    sd = await startSd(settings);
    if (/torn tail detected/.test(sd.process.output())) figures.tornTails++;
    const served = await sd.client.records();
    const hashes = new Set(served.map((r) => r.hash));
    figures.lost = Math.max(figures.lost, acked.filter((r) => !hashes.has(r.hash)).length);
    if (inFlight && hashes.has(inFlight.hash)) figures.storedUnacknowledged++;
    parent = served.at(-1)?.hash ?? '';
  }
  figures.acknowledged = acked.length;
  await sd.stop();
  appendFileSync(log, sd.process.output());
  return figures;
}

export async function sdKill(ctx: FaultContext, name: string): Promise<ScenarioResult> {
  const f = await sdKillRounds(
    join(ctx.dir, 'sd-kill'),
    ctx.options.kills,
    join(ctx.net.logs, 'sd-kill.log'),
  );
  return {
    name,
    calls: f.acknowledged,
    failed: 0,
    maybeProcessed: 0,
    recordsLost: f.lost,
    notes:
      `${f.kills} kills, ${f.duringWrite} during a write (submission sent, not answered): ` +
      `${f.storedUnacknowledged} of those stored, ${f.duringWrite - f.storedUnacknowledged} not; ` +
      `${f.insideAppend} inside an append (lock file left); ${f.tornTails} torn tails repaired; ` +
      `${f.acknowledged} acknowledged records checked`,
  };
}
