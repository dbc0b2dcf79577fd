import { SetMetadata } from '@nestjs/common';

/** Metadata key of `@ChangesNothing()`. */
export const CHANGES_NOTHING = 'isogate:changes-nothing';

/**
 * Marks a POST route that changes no stored state (retrieve, chat), so it skips the audit
 * preflight: its answer is already withheld when its event cannot be written.
 */
export const ChangesNothing = () => SetMetadata(CHANGES_NOTHING, true);
