// Building the page without innerHTML: h() makes an element from a tag,
// attributes and children, so text from the API is never parsed as markup
// (and no inline style ever reaches the page, which its CSP forbids).

// h('a', {href: '#/jobs', class: 'x', testid: 'y', onclick: fn}, 'text', child)
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'testid') element.setAttribute('data-testid', value);
    else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key in PROPERTIES) element[PROPERTIES[key]] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

// Set as properties, not attributes (their attribute is only the default).
const PROPERTIES = { value: 'value', checked: 'checked', disabled: 'disabled', hidden: 'hidden' };

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

// Replaces an element's children.
export function fill(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

// Sets a text only when it changed (keeps the page still under live updates).
export function setText(element, text) {
  const value = String(text);
  if (element.textContent !== value) element.textContent = value;
}
