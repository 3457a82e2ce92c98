// Sign-in: paste a token (kept in sessionStorage), or take the server's dev
// token when GET /v1/console/dev-token offers one (loopback only).
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, devToken, setToken, whoami } from '../api/client';
import type { WhoAmI } from '../api/types';
import { t } from '../i18n';

export function SignIn(props: { onSignedIn: (who: WhoAmI) => void; reason?: string }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [dev, setDev] = useState<string | null>(null);
  useEffect(() => {
    devToken().then(setDev);
  }, []);
  const tryToken = async (token: string) => {
    setBusy(true);
    setError(null);
    setToken(token);
    try {
      const who = await whoami();
      props.onSignedIn(who);
    } catch (e) {
      setToken(null);
      setError(e instanceof ApiError && e.code !== 'unauthenticated' ? `${e.code}: ${e.message}` : t('signin.bad'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" data-testid="page-signin" data-state={busy ? 'loading' : 'ready'}>
      <h1>{t('app.title')}</h1>
      <h2>{t('signin.title')}</h2>
      <p>{t('signin.intro')}</p>
      <form
        onSubmit={(e: JSX.TargetedEvent<HTMLFormElement>) => {
          e.preventDefault();
          if (text.trim()) void tryToken(text.trim());
        }}
      >
        <label>
          {t('signin.token')}
          <textarea
            rows={5}
            value={text}
            data-testid="signin-token"
            spellcheck={false}
            autocomplete="off"
            onInput={(e: JSX.TargetedEvent<HTMLTextAreaElement>) => setText(e.currentTarget.value)}
          />
        </label>
        <div class="row">
          <button type="submit" disabled={busy || !text.trim()} data-testid="signin-submit">
            {busy ? t('signin.checking') : t('signin.submit')}
          </button>
          {dev && (
            <button type="button" disabled={busy} data-testid="signin-dev" onClick={() => void tryToken(dev)}>
              {t('signin.dev')}
            </button>
          )}
        </div>
        {(error || props.reason) && (
          <p class="error" role="alert" data-testid="signin-error">
            {error ?? props.reason}
          </p>
        )}
      </form>
    </main>
  );
}
