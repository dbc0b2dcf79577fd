// Verifies an audit export offline, without the gateway or its database:
//   npm run audit:verify -- export.jsonl --public-key key.pem [--checkpoint checkpoint.json]
//   npm run audit:verify -- <segment>.jsonl --checkpoint <segment>.checkpoint.json --public-key key.pem
// Checks every event's hash (SHA-256 of prev_hash + RFC 8785 canonical JSON of the event
// without hash), the chain (seq without gaps, each prev_hash the previous hash), the manifest's
// sha256 over the bytes before its line, its counts and head, and its Ed25519 signature. With a
// signed checkpoint (from the archive, next to each segment) the chain is also anchored to it:
// an export that starts right after it (a pruned chain) must link to its head hash, one that
// passes it must have its hash at its seq, and one that ends before it lost its tail. An
// archived segment (events only, no manifest) must end exactly at its checkpoint. Exits 0
// when all hold; otherwise names the first bad seq and exits 1. Either way it also prints, over
// the events that verified, the streamed chat answers: how many started (`chat.started`), how
// many completed (`chat.completed`, linked by request_id), and the request ids of those started
// without completing; an open stream is not a broken chain and does not change the exit code.
// Reads the file as a stream, in constant memory (plus the streams still open). Deliberately
// standalone (node:crypto and `canonicalize` only) so an auditor can read all of it; it re-implements the rules of libs/audit rather than importing them.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import canonicalize from 'canonicalize';

const GENESIS = '0'.repeat(64);
const OPEN_STREAMS_LISTED = 100;

function usage(message) {
  process.stderr.write(`audit:verify: ${message}\n`);
  process.stderr.write('usage: npm run audit:verify -- <export.jsonl> --public-key <key.pem>\n');
  process.exit(2);
}

/** Yields each line of a file as raw bytes, without its trailing \n (and says if it had one). */
async function* lines(path) {
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(path)) {
    let buffer = Buffer.concat([rest, chunk]);
    let at;
    while ((at = buffer.indexOf(0x0a)) !== -1) {
      yield { bytes: buffer.subarray(0, at), newline: true };
      buffer = buffer.subarray(at + 1);
    }
    rest = buffer;
  }
  if (rest.length > 0) yield { bytes: rest, newline: false };
}

function keyIdOf(publicKey) {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Checks one event line; returns the problem, or undefined when the event holds. */
function checkEvent(text, state) {
  let event;
  try {
    event = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (canonicalize(event) !== text) return 'is not in canonical form (its bytes were changed)';
  const { hash, ...unsigned } = event;
  if (state.expectedSeq === undefined) {
    const anchor = state.anchor;
    state.expectedSeq = event.seq;
    state.firstSeq = event.seq;
    state.prevHash =
      anchor !== undefined && anchor.seq + 1 === event.seq
        ? anchor.head_hash
        : anchor?.first_seq === event.seq && typeof anchor.prev_hash === 'string'
          ? anchor.prev_hash
          : event.seq === 1
            ? GENESIS
            : event.prev_hash;
  }
  state.seq = event.seq;
  if (event.seq !== state.expectedSeq) return `has seq ${event.seq}, expected ${state.expectedSeq}`;
  if (event.prev_hash !== state.prevHash) return 'does not link to the previous event';
  const computed = createHash('sha256')
    .update(event.prev_hash + canonicalize(unsigned))
    .digest('hex');
  if (computed !== hash) return 'has a hash that does not match its content';
  if (state.anchor?.seq === event.seq && hash !== state.anchor.head_hash)
    return 'is not the event the checkpoint signed';
  state.expectedSeq += 1;
  state.prevHash = hash;
  state.count += 1;
  tallyStream(event, state.streams);
  return undefined;
}

/**
 * Counts a verified event of a streamed answer. `open` maps each open start's event id to its
 * request_id, oldest first; `byRequest` lists the open starts of each request_id (a caller may
 * send one twice). A completion closes the start it names by `started_event_id` (naming none:
 * the oldest open start of its request_id), only when both have the same request_id; one whose
 * start is not in the export (pruned) closes nothing.
 */
function tallyStream(event, streams) {
  const { open, byRequest } = streams;
  if (event.action === 'chat.started') {
    streams.started += 1;
    open.set(event.id, event.request_id);
    byRequest.set(event.request_id, [...(byRequest.get(event.request_id) ?? []), event.id]);
  } else if (event.action === 'chat.completed') {
    streams.completed += 1;
    const named = event.details?.started_event_id;
    const starts = byRequest.get(event.request_id) ?? [];
    const startedId = typeof named === 'string' ? named : starts[0];
    if (startedId === undefined || open.get(startedId) !== event.request_id) return;
    open.delete(startedId);
    const rest = starts.filter((id) => id !== startedId);
    if (rest.length === 0) byRequest.delete(event.request_id);
    else byRequest.set(event.request_id, rest);
  }
}

/** The streams line: counts, then the oldest open request ids (and how many more there are). */
function streamsLine(streams) {
  const ids = [...streams.open.values()];
  const listed = ids.slice(0, OPEN_STREAMS_LISTED).join(', ');
  const more =
    ids.length > OPEN_STREAMS_LISTED ? ` (and ${ids.length - OPEN_STREAMS_LISTED} more)` : '';
  return (
    `streams: ${streams.started} started, ${streams.completed} completed, ` +
    `${ids.length} started without completed${ids.length > 0 ? `: ${listed}${more}` : ''}\n`
  );
}

function checkManifest(manifest, state, digest, publicKey) {
  const problems = [];
  const { signature, ...unsigned } = manifest;
  if (manifest.sha256 !== digest) problems.push('manifest sha256 does not match the export bytes');
  if (manifest.count !== state.count)
    problems.push(`manifest count ${manifest.count}, export has ${state.count}`);
  const lastSeq = state.count > 0 ? state.expectedSeq - 1 : null;
  if (manifest.last_seq !== lastSeq)
    problems.push(`manifest last_seq ${manifest.last_seq}, export ends at ${lastSeq}`);
  if (manifest.head_hash !== (state.count > 0 ? state.prevHash : null))
    problems.push('manifest head_hash is not the last event hash');
  if (manifest.key_id !== keyIdOf(publicKey))
    problems.push(`manifest key_id ${manifest.key_id} is not this public key's`);
  let valid = false;
  try {
    valid = verify(
      null,
      Buffer.from(canonicalize(unsigned), 'utf8'),
      publicKey,
      Buffer.from(String(signature), 'base64'),
    );
  } catch {
    valid = false;
  }
  if (!valid) problems.push('manifest signature does not verify');
  return problems;
}

/** Reads and checks a signed checkpoint; answers it, or exits when it does not verify. */
function readCheckpoint(path, publicKey) {
  const checkpoint = JSON.parse(readFileSync(path, 'utf8'));
  const statement = {
    tenant_id: checkpoint.tenant_id,
    seq: checkpoint.seq,
    head_hash: checkpoint.head_hash,
    ts: checkpoint.ts,
    kind: checkpoint.kind,
    key_id: checkpoint.key_id,
  };
  let valid = false;
  try {
    valid =
      checkpoint.key_id === keyIdOf(publicKey) &&
      verify(
        null,
        Buffer.from(canonicalize(statement), 'utf8'),
        publicKey,
        Buffer.from(String(checkpoint.signature), 'base64'),
      );
  } catch {
    valid = false;
  }
  if (!valid) {
    process.stdout.write('FAILED: the checkpoint signature does not verify with this key\n');
    process.exit(1);
  }
  return checkpoint;
}

/** The chain's problem against its checkpoint once every event was read, with its seq. */
function anchorProblem(anchor, state) {
  if (anchor === undefined) return undefined;
  const lastSeq = state.count > 0 ? state.expectedSeq - 1 : 0;
  if (state.firstSeq !== undefined && state.firstSeq > anchor.seq + 1)
    return {
      seq: anchor.seq + 1,
      problem: `the export starts at seq ${state.firstSeq}, after the checkpoint at seq ${anchor.seq}`,
    };
  if (lastSeq < anchor.seq)
    return {
      seq: lastSeq + 1,
      problem: `the chain ends at seq ${lastSeq}, before the checkpoint at seq ${anchor.seq}: its tail is missing`,
    };
  return undefined;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'public-key': { type: 'string' }, checkpoint: { type: 'string' } },
});
const file = positionals[0];
if (file === undefined) usage('give the export file');
if (values['public-key'] === undefined) usage('give --public-key');
const publicKey = createPublicKey(readFileSync(values['public-key'], 'utf8'));
const anchor =
  values.checkpoint === undefined ? undefined : readCheckpoint(values.checkpoint, publicKey);

const state = {
  count: 0,
  expectedSeq: undefined,
  prevHash: GENESIS,
  seq: undefined,
  anchor,
  streams: { started: 0, completed: 0, open: new Map(), byRequest: new Map() },
};
const digest = createHash('sha256');
let pending;
let firstBad;
let lineNumber = 0;
for await (const line of lines(file)) {
  if (pending !== undefined) {
    lineNumber += 1;
    digest.update(pending.bytes).update('\n');
    if (firstBad === undefined) {
      const problem = checkEvent(pending.bytes.toString('utf8'), state);
      if (problem !== undefined)
        firstBad = { seq: state.expectedSeq ?? state.seq, line: lineNumber, problem };
    }
  }
  pending = line;
}
if (pending === undefined) usage('the export is empty');
let manifest;
try {
  manifest = JSON.parse(pending.bytes.toString('utf8'));
} catch {
  manifest = undefined;
}
// An archived segment has no manifest: its last line is an event, and its checkpoint ends it.
const segment =
  anchor !== undefined && manifest?.hash !== undefined && manifest?.signature === undefined;
if (segment && firstBad === undefined) {
  lineNumber += 1;
  const problem = checkEvent(pending.bytes.toString('utf8'), state);
  if (problem !== undefined)
    firstBad = { seq: state.expectedSeq ?? state.seq, line: lineNumber, problem };
}
const problems = segment
  ? state.expectedSeq - 1 === anchor.seq
    ? []
    : [`the segment ends at seq ${state.expectedSeq - 1}, its checkpoint at seq ${anchor.seq}`]
  : manifest === undefined || typeof manifest !== 'object'
    ? ['the last line is not a manifest']
    : checkManifest(manifest, state, digest.digest('hex'), publicKey);
const anchored = firstBad === undefined ? anchorProblem(anchor, state) : undefined;
if (anchored !== undefined) {
  process.stdout.write(`FAILED: ${anchored.problem}\n`);
  for (const p of problems) process.stdout.write(`FAILED: ${p}\n`);
  process.stdout.write(`first bad seq: ${anchored.seq}\n`);
  process.stdout.write(streamsLine(state.streams));
  process.exit(1);
}
if (firstBad !== undefined) {
  process.stdout.write(`FAILED: line ${firstBad.line} ${firstBad.problem}\n`);
  for (const p of problems) process.stdout.write(`FAILED: ${p}\n`);
  process.stdout.write(`first bad seq: ${firstBad.seq}\n`);
  process.stdout.write(streamsLine(state.streams));
  process.exit(1);
}
if (problems.length > 0) {
  for (const p of problems) process.stdout.write(`FAILED: ${p}\n`);
  process.stdout.write(`first bad seq: ${manifest?.first_seq ?? 'unknown'}\n`);
  process.stdout.write(streamsLine(state.streams));
  process.exit(1);
}
process.stdout.write(
  segment
    ? `OK: segment of ${anchor.tenant_id}, seq ${state.firstSeq}..${anchor.seq}, ends at its signed checkpoint\n`
    : `OK: ${state.count} events of ${manifest.tenant_id}, seq ${manifest.first_seq}..${manifest.last_seq}, ` +
        `head ${manifest.head_hash}, signed by key ${manifest.key_id}` +
        `${anchor !== undefined ? `, anchored to the checkpoint at seq ${anchor.seq}` : ''}\n`,
);
process.stdout.write(streamsLine(state.streams));
