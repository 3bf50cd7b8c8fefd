(function () {
  // Tabs, the segment filter and the month picker of the dashboard, and the charts:
  // every figure is kept once as JSON (#cx-figures) and drawn the first time it shows.
  var storeEl = document.getElementById('cx-figures');
  var store = storeEl ? JSON.parse(storeEl.textContent) : {template: null, figures: {}};
  var CONFIG = {responsive: true, displaylogo: false, displayModeBar: 'hover'};
  var segment = document.getElementById('cx-segment');
  var month = document.getElementById('cx-month');
  var current = null;

  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }

  // '#executive&segment=smb&month=2026-09' -> {tab, segment, month}
  function parse(hash) {
    var parts = hash.split('&');
    var found = {tab: decodeURIComponent(parts[0] || '')};
    parts.slice(1).forEach(function (part) {
      var kv = part.split('=');
      if (kv.length === 2) { found[kv[0]] = decodeURIComponent(kv[1]); }
    });
    return found;
  }

  function writeHash() {
    var hash = '#' + current;
    if (segment && month) {
      hash += '&segment=' + encodeURIComponent(segment.value) +
        '&month=' + encodeURIComponent(month.value);
    }
    history.replaceState(null, '', hash);
  }

  function draw(root) {
    root.querySelectorAll('.cx-figure').forEach(function (el) {
      if (el.offsetParent === null) { return; }  // in a hidden tab or view
      if (!window.Plotly) { return; }
      if (el.dataset.drawn) {
        window.Plotly.Plots.resize(el);
        return;
      }
      var spec = store.figures[el.dataset.figure];
      if (!spec) { return; }
      var layout = Object.assign({}, spec.layout, {template: store.template});
      window.Plotly.newPlot(el, spec.data, layout, CONFIG);
      el.dataset.drawn = '1';
    });
  }

  // Show, on every page with views, the view of the chosen segment and month.
  function applyView() {
    if (!segment || !month) { return; }
    var key = segment.value + '|' + month.value;
    document.querySelectorAll('.page').forEach(function (p) {
      var views = p.querySelectorAll(':scope > .view');
      var found = Array.prototype.some.call(views, function (v) { return v.dataset.view === key; });
      views.forEach(function (v, i) { v.hidden = found ? v.dataset.view !== key : i !== 0; });
    });
  }

  function show(key) {
    var pages = document.querySelectorAll('.page');
    var exists = Array.prototype.some.call(pages, function (p) { return p.id === 'page-' + key; });
    if (!exists) { key = pages[0].id.slice(5); }
    current = key;
    pages.forEach(function (p) { p.classList.toggle('active', p.id === 'page-' + key); });
    document.querySelectorAll('nav.tabs button').forEach(function (b) {
      b.setAttribute('aria-selected', b.dataset.tab === key ? 'true' : 'false');
    });
    var active = document.getElementById('page-' + key);
    if (segment && month) {
      var filtered = active.querySelector(':scope > .view') !== null;
      segment.disabled = !filtered;
      month.disabled = !filtered;
    }
    applyView();
    draw(active);
  }

  function follow(hash) {
    var wanted = parse(hash);
    if (segment && wanted.segment && hasOption(segment, wanted.segment)) {
      segment.value = wanted.segment;
    }
    if (month && wanted.month && hasOption(month, wanted.month)) {
      month.value = wanted.month;
    }
    show(wanted.tab);
  }

  document.querySelectorAll('nav.tabs button').forEach(function (b) {
    b.addEventListener('click', function () {
      show(b.dataset.tab);
      writeHash();
    });
  });
  [segment, month].forEach(function (select) {
    if (!select) { return; }
    select.addEventListener('change', function () {
      show(current);
      writeHash();
    });
  });
  window.addEventListener('hashchange', function () { follow(location.hash.slice(1)); });
  follow(location.hash.slice(1));
  window.cxShowTab = show;
})();
