import { Api, describeError } from '../api.ts';
import { alertBox, field, h } from '../dom.ts';
import { apiUrl, defaultApiUrl } from '../session.ts';

/**
 * Sign in by pasting an access token (a JWT the API accepts). It is checked with one API call before it
 * is kept, for this browser tab only (sessionStorage).
 */
export function signInView(onSignedIn: (api: Api, token: string) => void, message?: string): HTMLElement {
  const token = h('input', {
    type: 'password',
    name: 'token',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
  });
  const api = h('input', { type: 'url', name: 'api', value: apiUrl(), required: true, placeholder: defaultApiUrl() });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const alert = alertBox();
  alert.show(message ?? null);
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h2', { id: 'sign-in-title' }, 'Sign in'),
    field('Access token', token, [
      'Paste the development token that ',
      h('code', {}, 'npm start'),
      ' printed, or make one with ',
      h('code', {}, 'npm run -s token -- <your name>'),
      '.',
    ]),
    h(
      'details',
      { class: 'server' },
      h('summary', {}, 'Server'),
      field('API address', api, 'Where the mediaflow API answers; this page’s origin must be in its CORS_ORIGINS.'),
    ),
    h('div', { class: 'actions' }, button),
    alert.element,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = token.value.trim().replace(/^Bearer\s+/i, '');
    const base = api.value.trim().replace(/\/+$/, '');
    if (!value) {
      alert.show('Paste an access token first.');
      token.focus();
      return;
    }
    button.disabled = true;
    alert.show(null);
    const client = new Api(base, value);
    try {
      // One authenticated call: a token the API refuses is said so here, not on the first form.
      await client.listBrands();
      onSignedIn(client, value);
    } catch (error) {
      alert.show(describeError(error, base));
      token.focus();
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'page' }, form);
}
