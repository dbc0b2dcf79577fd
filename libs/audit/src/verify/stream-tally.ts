import type { AuditEvent } from '../chain/audit-event.js';

/**
 * The actions of a streamed chat answer's two events (docs/API.md, Audit): one written before
 * the stream's first byte, one when it ends, both with the request's `request_id`.
 */
export const CHAT_STREAM_ACTIONS = {
  started: 'chat.started',
  completed: 'chat.completed',
} as const;

/** How many request ids of open streams a report lists; the count is always exact. */
export const OPEN_STREAMS_LISTED = 100;

/** Streamed answers among the events read: how many started, completed, and are still open. */
export interface StreamsReport {
  readonly started: number;
  readonly completed: number;
  readonly started_without_completed: {
    readonly count: number;
    /** Oldest first, at most `OPEN_STREAMS_LISTED` of them; `truncated` when there are more. */
    readonly request_ids: readonly string[];
    readonly truncated: boolean;
  };
}

/** The fields of an event the tally reads. */
export type StreamEvent = Pick<AuditEvent, 'id' | 'action' | 'request_id' | 'details'>;

/**
 * Counts streamed answers one event at a time, in seq order. It keeps only the streams still
 * open, so its memory follows them, not the chain. A stream started without completing (the
 * audit store failed at its end, the process died, or it is still being answered) is not a
 * broken chain: it is this figure. A `chat.completed` whose started event is not among those
 * read (pruned by retention) counts as completed and closes nothing.
 */
export class StreamTally {
  #started = 0;
  #completed = 0;
  /** Open streams: started event id → request id, in seq order (a Map keeps insertion order). */
  readonly #open = new Map<string, string>();
  /** The open started event ids of each request id: a caller may send one request id twice. */
  readonly #byRequest = new Map<string, string[]>();

  constructor(private readonly listed = OPEN_STREAMS_LISTED) {}

  /** Feeds the next event; events of other actions are ignored. */
  push(event: StreamEvent): void {
    if (event.action === CHAT_STREAM_ACTIONS.started) {
      this.#started += 1;
      this.#open.set(event.id, event.request_id);
      const open = this.#byRequest.get(event.request_id);
      if (open === undefined) this.#byRequest.set(event.request_id, [event.id]);
      else open.push(event.id);
    } else if (event.action === CHAT_STREAM_ACTIONS.completed) {
      this.#completed += 1;
      this.close(event);
    }
  }

  /** The figures so far. */
  report(): StreamsReport {
    const request_ids: string[] = [];
    for (const requestId of this.#open.values()) {
      if (request_ids.length === this.listed) break;
      request_ids.push(requestId);
    }
    return {
      started: this.#started,
      completed: this.#completed,
      started_without_completed: {
        count: this.#open.size,
        request_ids,
        truncated: this.#open.size > request_ids.length,
      },
    };
  }

  /**
   * Closes the stream a completion names by `started_event_id`; without one, the oldest open
   * stream of its request id. A named start that is not open (pruned) closes nothing, and
   * neither does one of another request id: the two events are linked by `request_id`.
   */
  private close(event: StreamEvent): void {
    const named = event.details['started_event_id'];
    const open = this.#byRequest.get(event.request_id);
    const startedId = typeof named === 'string' ? named : open?.[0];
    if (startedId === undefined || this.#open.get(startedId) !== event.request_id) return;
    this.#open.delete(startedId);
    const rest = (open ?? []).filter((id) => id !== startedId);
    if (rest.length === 0) this.#byRequest.delete(event.request_id);
    else this.#byRequest.set(event.request_id, rest);
  }
}
