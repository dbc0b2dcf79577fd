/** The audit trail: append, hash chain, verify, export, interactions. Exported here only. */
export { PLATFORM_SCOPE, EVENT_FIELDS } from './chain/audit-event.js';
export type { AuditEvent, AuditDraft, AuditOutcome, AuditStream } from './chain/audit-event.js';
export { GENESIS_HASH, canonicalJson, eventHash, sha256Hex } from './chain/canonical.js';
export { ChainVerifier } from './chain/chain-verifier.js';
export type { ChainReport, ChainStart } from './chain/chain-verifier.js';
export { AuditTrail } from './trail/audit-trail.js';
export { AuditReader } from './trail/audit-reader.js';
export type { EventFilter, Checkpoint } from './trail/audit-reader.js';
export { AuditScope } from './scope/audit-scope.js';
export { InteractionLog } from './interactions/interaction-log.js';
export type {
  InteractionInput,
  InteractionChunk,
  InteractionSummary,
} from './interactions/interaction-log.js';
export { InteractionReader } from './interactions/interaction-reader.js';
export type { InteractionView, InteractionFilter } from './interactions/interaction-reader.js';
export type { StagedInteraction } from './interactions/staged-interaction.js';
export { ExportSigner, keyIdOf, verifySigned } from './export/export-signer.js';
export type { PublicKeyView } from './export/export-signer.js';
export { AuditExport } from './export/audit-export.js';
export type { ExportRange } from './export/audit-export.js';
export { CSV_HEADER, csvLine, jsonlLine } from './export/export-format.js';
export type { ExportFormat, ExportManifest } from './export/export-format.js';
export { ChainVerification, checkpointStatement } from './verify/chain-verification.js';
export type { ChainVerificationReport } from './verify/chain-verification.js';
export { CHAT_STREAM_ACTIONS, OPEN_STREAMS_LISTED, StreamTally } from './verify/stream-tally.js';
export type { StreamEvent, StreamsReport } from './verify/stream-tally.js';
export { AuditArchive } from './archive/audit-archive.js';
export type { AuditLogger } from './archive/audit-archive.js';
export { FileArchive } from './archive/file-archive.js';
export { S3Archive } from './archive/s3-archive.js';
export { openAuditArchive } from './archive/open-archive.js';
export { AuditCheckpointer } from './checkpoint/audit-checkpointer.js';
export type { CheckpointPolicy } from './checkpoint/audit-checkpointer.js';
export { AuditPruner } from './retention/audit-pruner.js';
export type { PruneOptions } from './retention/audit-pruner.js';
