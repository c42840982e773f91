// What a route store is: a place route documents are read from and written to.

import { ErrorType, KeylessError } from '../contracts/errors';
import type { Route } from '../contracts/route';

/** A place route documents are kept. */
export interface RouteStore {
  /** The route at `location`, or undefined when none was published there. */
  read(location: string): Promise<Route | undefined>;
  write(location: string, route: Route): Promise<void>;
}

/** StaleRoute: the store holds a newer generation than the one being written. */
export function staleRoute(location: string, stored: number, attempted: number): KeylessError {
  return new KeylessError({
    type: ErrorType.StaleRoute,
    message: `route ${location} is at generation ${stored}, newer than ${attempted}: someone else published it`,
  });
}
