/** The page frame every console page shares: navigation, who is signed in, sign-out (a CSRF-guarded POST). */
import { html, type Html } from './html';
import type { Role } from './auth';

export interface Viewer {
  operator: string;
  role: Role;
  csrf: string;
}

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/subscribers', 'Subscribers'],
  ['/stream', 'Live stream'],
  ['/webhooks', 'Webhooks'],
  ['/dlq', 'Dead letters'],
];

export function csrfField(v: Viewer): Html {
  return html`<input type="hidden" name="csrf" value="${v.csrf}" />`;
}

function head(title: string, scripts: string[]): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Storeline Console</title>
        <link rel="stylesheet" href="/static/console.css" />
        ${scripts.map((s) => html`<script src="${s}" defer></script>`)}
      </head>
    </html>`;
}

export function page(
  opts: { title: string; viewer: Viewer; active: string; scripts?: string[] },
  body: Html,
): Html {
  const v = opts.viewer;
  return html`${head(opts.title, opts.scripts ?? [])}
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <nav aria-label="Main">
    <strong class="brand">Storeline Console</strong>
    <ul>${NAV.map(
      ([href, label]) =>
        html`<li>
          <a href="${href}" ${opts.active === href ? html` aria-current="page"` : ''}>${label}</a>
        </li>`,
    )}</ul>
  </nav>
  <form method="post" action="/signout" class="who">
    <span>${v.operator} <span class="role role-${v.role}">${v.role}</span></span>
    ${csrfField(v)}<button type="submit">Sign out</button>
  </form>
</header>
<main id="main">
<h1>${opts.title}</h1>
${body}
</main>
</body>
</html>`;
}

export function signInPage(opts: { csrf: string; next: string; error?: string }): Html {
  return html`${head('Sign in', [])}
<body class="signin">
<main id="main">
<h1>Storeline Console</h1>
<form method="post" action="/signin" class="card">
  ${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
  <label for="key">Operator key</label>
  <input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
  <input type="hidden" name="csrf" value="${opts.csrf}">
  <input type="hidden" name="next" value="${opts.next}">
  <button type="submit">Sign in</button>
</form>
</main>
</body>
</html>`;
}

export function messagePage(viewer: Viewer, title: string, message: string, active = ''): Html {
  return page({ title, viewer, active }, html`<p class="notice" role="alert">${message}</p>`);
}

/** A table: headers, then rows of cells; an empty-state line when there are no rows. */
export function table(headers: string[], rows: (Html | string | number | null)[][], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table>
    <thead>
      <tr>
        ${headers.map((h) => html`<th scope="col">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((c) => html`<td>${c ?? '—'}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}
