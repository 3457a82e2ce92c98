// Hash routing (#/review?gran=month&date=2024-03-01): the server serves
// index.html at "/" only and needs no fallback for deep links
// (docs/console.md "Pages").

export interface Route {
  /** Path segments after "#/": ["customers", "C000042"]. */
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string = location.hash): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const path = pathPart
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { path, query };
}

export type Query = Record<string, string | number | boolean | undefined | null>;

/** "#/customers/C000042?x=1" from path segments and a query (empty values dropped). */
export function href(path: string | string[], query?: Query): string {
  const segments = (Array.isArray(path) ? path : path.split('/')).filter((s) => s !== '');
  const p = segments.map((s) => encodeURIComponent(s)).join('/');
  const params = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '' || v === false) continue;
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  return `#/${p}${qs ? `?${qs}` : ''}`;
}

export function navigate(path: string | string[], query?: Query, replace = false): void {
  const target = href(path, query);
  if (replace) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  // pushState/replaceState fire no hashchange: tell the app ourselves.
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function customerHref(id: string): string {
  return href(['customers', id]);
}
