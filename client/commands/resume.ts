// `keyless resume <pipeline>`: restart the canary bake clock after a pause.

import { signalCommand } from '../operator-commands';

export const resume = signalCommand('resume', 'Restart the canary bake clock');
