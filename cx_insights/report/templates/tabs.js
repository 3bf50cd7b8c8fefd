
(function () {
  function show(key) {
    var pages = document.querySelectorAll('.page');
    var found = false;
    pages.forEach(function (p) { if (p.id === 'page-' + key) { found = true; } });
    if (!found) { key = pages[0].id.slice(5); }
    pages.forEach(function (p) { p.classList.toggle('active', p.id === 'page-' + key); });
    document.querySelectorAll('nav.tabs button').forEach(function (b) {
      b.setAttribute('aria-selected', b.dataset.tab === key ? 'true' : 'false');
    });
    // Charts drawn while their tab was hidden have no width yet: size them now.
    if (window.Plotly) {
      document.querySelectorAll('#page-' + key + ' .js-plotly-plot').forEach(function (el) {
        window.Plotly.Plots.resize(el);
      });
    }
  }
  document.querySelectorAll('nav.tabs button').forEach(function (b) {
    b.addEventListener('click', function () {
      history.replaceState(null, '', '#' + b.dataset.tab);
      show(b.dataset.tab);
    });
  });
  window.addEventListener('hashchange', function () { show(location.hash.slice(1)); });
  show(location.hash.slice(1));
  window.cxShowTab = show;
})();
