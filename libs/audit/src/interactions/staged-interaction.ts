/** An interaction sealed and waiting to be written with its request's audit event. */
export interface StagedInteraction {
  readonly id: string;
  readonly requestId: string;
  readonly kind: 'chat' | 'retrieve';
  readonly contentEnc: Buffer;
  readonly contentSha256: string;
  readonly model: string | null;
  readonly tokensIn: number;
  readonly tokensOut: number;
}
