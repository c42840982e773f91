// `keyless pause <pipeline>`: stop the canary bake clock (the route stays where it is).

import { signalCommand } from '../operator-commands';

export const pause = signalCommand('pause', 'Stop the canary bake clock');
