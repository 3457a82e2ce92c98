// The custops ops console (docs/console.md): the shell — who is signed in,
// navigation, language — and the hash routes to the pages.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, onUnauthenticated, setToken, whoami } from './api/client';
import type { WhoAmI } from './api/types';
import { ErrorBox, Loading } from './components/ui';
import { setTimeZone } from './format';
import { currentLang, setLang, t } from './i18n';
import { Customer360Page } from './pages/Customer360';
import { CustomersPage } from './pages/Customers';
import { FunnelPage } from './pages/Funnel';
import { OpsPage } from './pages/Ops';
import { ReviewPage } from './pages/Review';
import { SignIn } from './pages/SignIn';
import { ValuePage } from './pages/Value';
import { WorklistPage } from './pages/Worklist';
import { parseHash, type Route } from './router';
import { type Session, SessionContext, sessionOf } from './session';
import './styles.css';

const NAV: [string, Parameters<typeof t>[0]][] = [
  ['review', 'nav.review'],
  ['funnel', 'nav.funnel'],
  ['customers', 'nav.customers'],
  ['value', 'nav.value'],
  ['worklist', 'nav.worklist'],
  ['ops', 'nav.ops'],
];

type Auth =
  | { state: 'checking' }
  | { state: 'signin'; reason?: string }
  | { state: 'down'; error: ApiError }
  | { state: 'ready'; session: Session };

function useRoute(): Route {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [, setLangState] = useState(currentLang());
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const route = useRoute();

  const signedIn = (who: WhoAmI) => {
    setTimeZone(who.timeZone);
    setAuth({ state: 'ready', session: sessionOf(who) });
  };
  const check = () => {
    setAuth({ state: 'checking' });
    whoami().then(signedIn, (e: ApiError) => {
      if (e.code === 'unauthenticated') setAuth({ state: 'signin' });
      else setAuth({ state: 'down', error: e });
    });
  };
  useEffect(() => {
    document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
    check();
    // A call answering UNAUTHENTICATED (expired token) sends us back to sign-in.
    return onUnauthenticated(() => {
      setToken(null);
      setAuth((a) => (a.state === 'ready' ? { state: 'signin', reason: t('signin.bad') } : a));
    });
  }, []);

  const toggleLang = () => {
    const next = currentLang() === 'zh' ? 'en' : 'zh';
    setLang(next);
    setLangState(next);
  };

  if (auth.state === 'checking') return <Loading />;
  if (auth.state === 'down') return <ErrorBox error={auth.error} onRetry={check} />;
  if (auth.state === 'signin') {
    return (
      <>
        <div class="lang-only">
          <button type="button" class="link" onClick={toggleLang} data-testid="lang-switch">
            {t('lang.switch')}
          </button>
        </div>
        <SignIn onSignedIn={signedIn} reason={auth.reason} />
      </>
    );
  }
  const { session } = auth;
  const page = route.path[0] ?? 'review';
  const who = session.who;
  return (
    <SessionContext.Provider value={session}>
      <header class="top no-print">
        <a class="brand" href="#/review">
          {t('app.title')}
        </a>
        <nav>
          {NAV.map(([name, key]) => (
            <a key={name} href={`#/${name}`} class={page === name ? 'active' : ''} data-testid={`nav-${name}`}>
              {t(key)}
            </a>
          ))}
        </nav>
        <div class="who" data-testid="whoami">
          <span data-testid="whoami-subject">{who.subject ?? '—'}</span>
          <span class="muted" data-testid="whoami-roles" title={t('who.roles')}>
            {(who.roles ?? []).join(', ')}
          </span>
          <span class="muted" data-testid="whoami-regions" title={t('who.regions')}>
            {session.regions ? session.regions.join('、') : t('who.allRegions')}
          </span>
          {!who.auth && <span class="badge">{t('who.authOff')}</span>}
          <button type="button" class="link" onClick={toggleLang} data-testid="lang-switch">
            {t('lang.switch')}
          </button>
          {who.auth && (
            <button
              type="button"
              class="link"
              data-testid="sign-out"
              onClick={() => {
                setToken(null);
                setAuth({ state: 'signin' });
              }}
            >
              {t('who.signOut')}
            </button>
          )}
        </div>
      </header>
      <main class="content" key={currentLang()}>
        <Routed page={page} route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function Routed(props: { page: string; route: Route }) {
  const { route } = props;
  switch (props.page) {
    case 'funnel':
      return <FunnelPage route={route} />;
    case 'customers':
      return route.path[1] ? <Customer360Page key={route.path[1]} route={route} /> : <CustomersPage route={route} />;
    case 'value':
      return <ValuePage route={route} />;
    case 'worklist':
      return <WorklistPage route={route} />;
    case 'ops':
      return <OpsPage />;
    case 'review':
    default:
      return <ReviewPage route={route} />;
  }
}

render(<App />, document.getElementById('app')!);
