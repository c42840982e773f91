// `keyless reject <pipeline> --stage cutover|finalize`: the reject update (a rejected cutover rolls back).

import { decisionCommand } from '../operator-commands';

export const reject = decisionCommand('reject');
