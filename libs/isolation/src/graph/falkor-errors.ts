import { EventEmitter } from 'node:events';
import { FalkorDB } from 'falkordb';

/**
 * `FalkorDB.connect` forwards the socket's errors to a FalkorDB instance it creates itself and
 * hands out only once connected, so an error while connecting (a store closing the socket
 * during the handshake) is emitted with no listener, and Node turns that into an uncaught
 * exception that ends the gateway. Such an error is dropped here; the failed connect still
 * rejects, and the caller answers 503. Errors of a connected client reach its listener as usual.
 */
const emit = Object.getOwnPropertyDescriptor(EventEmitter.prototype, 'emit')?.value as (
  this: EventEmitter,
  event: string | symbol,
  ...args: unknown[]
) => boolean;
FalkorDB.prototype.emit = function (this: FalkorDB, event: string | symbol, ...args: unknown[]) {
  if (event === 'error' && this.listenerCount('error') === 0) return false;
  return emit.call(this, event, ...args);
};

export { FalkorDB };
