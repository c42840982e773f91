// `keyless promote <pipeline>`: accept the current canary step on the evidence it has, or end a
// held soak, a soak that saw no run, or the shared-key wait now (recorded, with what it accepted),
// as the promote update carrying the operator's Google ID token.

import { promoteCommand } from '../operator-commands';

export const promote = promoteCommand();
