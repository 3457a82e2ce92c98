import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api/client';

export type Load<T> =
  | { state: 'idle'; data?: undefined; error?: undefined }
  | { state: 'loading'; data?: T; error?: undefined }
  | { state: 'ready'; data: T; error?: undefined }
  | { state: 'error'; data?: undefined; error: ApiError };

interface Held<T> {
  key: string | null;
  nonce: number;
  load: Load<T>;
}

/**
 * Runs `fn` whenever `key` changes (a string naming the request) and keeps
 * its answer; the previous call is aborted. `key` null = do nothing. The
 * state is "loading" from the first render with a new key (never the old
 * key's "ready"), so a page's data-state never describes another query.
 */
export function useLoad<T>(
  key: string | null,
  fn: (signal: AbortSignal) => Promise<T>,
): Load<T> & { reload: () => void } {
  const [nonce, setNonce] = useState(0);
  const [held, setHeld] = useState<Held<T>>({ key: null, nonce: -1, load: { state: 'idle' } });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (key === null) return undefined;
    const controller = new AbortController();
    fnRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setHeld({ key, nonce, load: { state: 'ready', data } });
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        const error =
          e instanceof ApiError ? e : new ApiError('internal', String((e as Error)?.message ?? e), 0);
        setHeld({ key, nonce, load: { state: 'error', error } });
      },
    );
    return () => controller.abort();
  }, [key, nonce]);
  const reload = () => setNonce((n) => n + 1);
  let load: Load<T>;
  if (key === null) load = { state: 'idle' };
  else if (held.key === key && held.nonce === nonce) load = held.load;
  else load = { state: 'loading', data: held.load.state === 'ready' ? held.load.data : undefined };
  return { ...load, reload } as Load<T> & { reload: () => void };
}
