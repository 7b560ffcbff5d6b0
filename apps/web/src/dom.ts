/** A tiny DOM builder: the pages are plain HTML, made with createElement (never innerHTML). */

export type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

/**
 * `h('button', { type: 'button', onclick: … }, 'Sign in')`. Attributes are set as given (true as an
 * empty attribute; false, null and undefined leave it out); `on…` functions become event listeners.
 * `style` attributes are never used: the page's CSP allows style sheets from this origin only.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Empties an element and fills it again. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let lastId = 0;
/** An id unique on the page, for label `for` and `aria-describedby`. */
export function uid(prefix: string): string {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/**
 * A labelled form control: `<label for>` + the control, and an optional hint that the control names
 * with aria-describedby.
 */
export function field(label: string, control: HTMLElement, hint?: string | Child[]): HTMLDivElement {
  if (!control.id) control.id = uid('field');
  const hintElement =
    hint === undefined
      ? null
      : h('p', { class: 'hint', id: `${control.id}-hint` }, ...(Array.isArray(hint) ? hint : [hint]));
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintElement);
}

/** A labelled control with a button beside it (e.g. a new brand's name and "Create brand"). */
export function fieldWithButton(
  label: string,
  control: HTMLElement,
  button: HTMLButtonElement,
  hint?: string,
): HTMLDivElement {
  const wrapper = field(label, control, hint);
  const row = h('div', { class: 'with-button' });
  control.replaceWith(row);
  row.append(control, button);
  return wrapper;
}

/** Text for screen readers only (e.g. which item a "Move up" button moves). */
export function hidden(text: string): HTMLSpanElement {
  return h('span', { class: 'visually-hidden' }, text);
}

/** A message area: role=alert for errors, which screen readers announce at once. */
export function alertBox(): { element: HTMLDivElement; show(message: string | null): void } {
  const element = h('div', { class: 'alert', role: 'alert' });
  return {
    element,
    show(message) {
      element.textContent = message ?? '';
      element.hidden = !message;
    },
  };
}
