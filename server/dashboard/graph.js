// The job's family as Graphviz drew it (GET /jobs/{id}/graph.svg), put into
// the page as inline SVG so its nodes are real links (#/jobs/<id>). The SVG
// is parsed as XML and cleaned first: no scripts, event handlers, styles or
// links that leave the dashboard survive, whatever the server sent.

const DROP = new Set(['script', 'foreignObject', 'iframe', 'style', 'embed', 'object']);

// Returns an <svg> element ready to insert, or throws if the text is no SVG.
export function svgFromText(text) {
  const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = parsed.documentElement;
  if (!root || root.nodeName !== 'svg' || parsed.getElementsByTagName('parsererror').length) {
    throw new Error('the server sent no SVG');
  }
  for (const element of [...root.querySelectorAll('*'), root]) {
    if (DROP.has(element.localName)) {
      element.remove();
      continue;
    }
    for (const attribute of [...element.attributes]) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith('on') || name === 'style') element.removeAttribute(attribute.name);
      else if ((name === 'href' || name === 'xlink:href') && !/^#\/jobs\/[0-9A-Z]+$/i.test(attribute.value)) {
        element.removeAttribute(attribute.name);
      }
    }
  }
  // Graphviz's own size (in points) is kept: a small family is not blown
  // up; a large one is scaled down to the box (style.css).
  root.setAttribute('role', 'img');
  return document.importNode(root, true);
}
