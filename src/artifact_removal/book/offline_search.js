// The search page's excerpts without a request. Sphinx quotes each page it finds by fetching
// that page, which a browser refuses for a site opened from file://; the text of the pages
// the search can find is in _static/excerpts.js, written with the site (book/build.py), and
// this answers those fetches from it. Other requests go out as before.
(() => {
  if (!document.getElementById("search-results") && !/search\.html$/.test(location.pathname)) {
    return;
  }
  const root = document.documentElement.dataset.content_root || "";
  const loaded = new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = `${root}_static/excerpts.js`;
    script.onload = resolve;
    script.onerror = resolve;
    document.head.appendChild(script);
  });
  const request = window.fetch ? window.fetch.bind(window) : null;
  window.fetch = (url, ...rest) =>
    loaded.then(() => {
      const name = String(url).slice(root.length).replace(/\.html$/, "");
      const text = (window.AR_EXCERPTS || {})[name];
      if (text === undefined) {
        return request ? request(url, ...rest) : Promise.reject(new Error(String(url)));
      }
      const main = document.createElement("div");
      main.setAttribute("role", "main");
      main.textContent = text;
      return new Response(main.outerHTML, { headers: { "Content-Type": "text/html" } });
    });
})();
