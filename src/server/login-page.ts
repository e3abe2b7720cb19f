// The login form GET / answers to a browser without the token cookie. Plain
// HTML that posts the token to /login as a form, so it works without
// JavaScript and shows nothing of the daemon's state.

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginPage(error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Capstan: log in</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; display: grid; place-items: center; min-height: 100vh; margin: 0; }
form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; width: min(26rem, 90vw); }
h1 { font-size: 1.2rem; margin: 0 0 1rem; } label { display: block; margin-bottom: .4rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #b8bdc7; border-radius: 4px; }
button { margin-top: 1rem; padding: .5rem 1.2rem; font: inherit; border: 0; border-radius: 4px; background: #2357c5; color: #fff; cursor: pointer; }
.error { color: #b3261e; margin: 0 0 1rem; } p.hint { color: #5b6372; font-size: .85rem; margin-top: 1rem; }
</style></head>
<body><form method="post" action="/login">
<h1>Capstan</h1>
${error === undefined ? '' : `<p class="error" role="alert">${escape(error)}</p>`}
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Log in</button>
<p class="hint">The daemon's CAPSTAN_API_TOKEN, or the content of &lt;data-dir&gt;/api.token. It is kept in an HttpOnly cookie for this site only.</p>
</form></body></html>
`;
}
