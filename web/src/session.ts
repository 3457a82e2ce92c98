import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { WhoAmI } from './api/types';

/** Who is signed in, from GET /v1/whoami (docs/security.md roles and region scope). */
export interface Session {
  who: WhoAmI;
  isAdmin: boolean;
  /** The token's regions; null = every region. */
  regions: string[] | null;
  /** The server's "now" when whoami tells it (a fixed clock), else the browser's. */
  now: Date;
}

export function sessionOf(who: WhoAmI): Session {
  const roles = who.roles ?? [];
  const regions = who.regions && who.regions.length > 0 ? who.regions : null;
  let now = new Date();
  if (who.now) {
    const d = new Date(who.now);
    if (!Number.isNaN(d.getTime())) now = d;
  }
  return { who, isAdmin: roles.includes('admin'), regions, now };
}

export const SessionContext = createContext<Session>(sessionOf({}));

export function useSession(): Session {
  return useContext(SessionContext);
}
