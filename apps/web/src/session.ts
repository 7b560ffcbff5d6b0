/**
 * Who is signed in, and against which API: kept in sessionStorage, so closing the tab signs out and
 * nothing outlives the browser session.
 */

const TOKEN_KEY = 'mediaflow.token';
const API_KEY = 'mediaflow.api';

/**
 * The API's base URL: VITE_MEDIAFLOW_API_URL when the app was built with it; in `vite` development,
 * the gateway on http://localhost:3000; otherwise this page's own origin (the gateway serves the app at
 * /app/). The sign-in page can change it, for a copy of the app served from another origin.
 */
export function defaultApiUrl(): string {
  const configured = import.meta.env.VITE_MEDIAFLOW_API_URL as string | undefined;
  if (configured) return configured.replace(/\/+$/, '');
  if (import.meta.env.MEDIAFLOW_DEV_SERVER === true) return 'http://localhost:3000';
  return window.location.origin;
}

export function apiUrl(): string {
  return sessionStorage.getItem(API_KEY) ?? defaultApiUrl();
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveSession(token: string, api: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  if (api === defaultApiUrl()) sessionStorage.removeItem(API_KEY);
  else sessionStorage.setItem(API_KEY, api);
}

export function clearSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's `sub` (the user id), read without verifying it: only to say who is signed in. */
export function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
