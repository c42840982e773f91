// `keyless promote <pipeline>`: end the current bake, a held soak or the shared-key wait now (recorded).

import { signalCommand } from '../operator-commands';

export const promote = signalCommand('promote', 'End the current bake now and move on');
