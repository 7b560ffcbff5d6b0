import { HttpError } from './errors.ts';

/** Who is asking, as their token says. */
export interface Caller {
  userId: string;
  isAdmin: boolean;
}

/** For what only admins may do: everyone else gets 403. */
export function requireAdmin(caller: Caller): void {
  if (!caller.isAdmin) throw new HttpError(403, 'forbidden', 'this route needs the admin role');
}
