// `keyless promote <pipeline>`: end the current bake, a held soak or the shared-key wait now
// (recorded), as the promote update carrying the operator's Google ID token.

import { promoteCommand } from '../operator-commands';

export const promote = promoteCommand();
