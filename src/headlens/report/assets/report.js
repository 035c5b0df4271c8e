/* headlens report: draws every view from the JSON data block of this page.
 * Vanilla JS and inline SVG; no library, no network. Corpus text and every other value from
 * the data reach the page through textContent / setAttribute only (never innerHTML), so markup in
 * the text is shown as text, never run. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("headlens-data").textContent);
  var L = D.layers, H = D.heads;
  var SVGNS = "http://www.w3.org/2000/svg";
  var main = document.getElementById("main");
  var tip = document.getElementById("tooltip");

  // -- small DOM helpers ----------------------------------------------------------------------
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) { for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]); return parent; }
  function fmt(v) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "n/a";
    if (typeof v !== "number") return String(v);
    if (v === 0) return "0";
    if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
    var a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) return v.toExponential(3);
    return v.toPrecision(4);
  }
  // docs/conventions.md: p/q below 1e-300 (0 included) print "< 1e-300" (units.format_p); proportions are fractions
  function fmtP(v) {
    if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) return "n/a";
    return v < 1e-300 ? "< 1e-300" : String(Number(Number(v).toPrecision(2)));
  }
  function fraction(v) { return v === null || v === undefined ? "n/a" : Number(v).toFixed(3); }
  function isPColumn(name) { return /^(p|q)(_|$)/.test(String(name)); }
  function labelOf(l, h) { return "L" + (l + 1) + "H" + (h + 1); }  // the head label of headlens.heads.head_label
  function headLabel(k) { return labelOf(Math.floor(k / H), k % H); }
  function note(parent, text, cls) { return add(parent, el("p", { "class": cls || "note" }, text)); }

  // -- tooltip --------------------------------------------------------------------------------
  function placeTip(evt) {
    var x = evt.clientX + 14, y = evt.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) x = Math.max(4, evt.clientX - w - 14);
    if (y + h > window.innerHeight - 4) y = Math.max(4, evt.clientY - h - 14);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  function tooltip(node, linesFn) {
    node.addEventListener("mouseenter", function (evt) {
      tip.textContent = "";
      linesFn().forEach(function (line) { add(tip, el("div", null, line)); });
      tip.hidden = false; placeTip(evt);
    });
    node.addEventListener("mousemove", placeTip);
    node.addEventListener("mouseleave", function () { tip.hidden = true; });
  }

  // -- colours --------------------------------------------------------------------------------
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  var CATEGORICAL = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  function lerp(stops, t) {
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(Math.floor(t), stops.length - 2), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (c) { return Math.round(a[c] + f * (b[c] - a[c])); }).join(",") + ")";
  }
  function diverging(t) { // t in [-1, 1]: blue - white - red
    return t < 0 ? lerp([[255, 255, 255], [33, 102, 172]], -t) : lerp([[255, 255, 255], [178, 24, 43]], t);
  }
  function scaleOf(values, isDiverging) {
    var fin = values.filter(function (v) { return v !== null && v !== undefined && isFinite(v); });
    if (!fin.length) return { color: function () { return "#eeeeee"; }, lo: null, hi: null, diverging: isDiverging };
    var lo = Math.min.apply(null, fin), hi = Math.max.apply(null, fin);
    if (isDiverging) {
      var m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
      return { color: function (v) { return v === null ? "#eeeeee" : diverging(v / m); }, lo: -m, hi: m, diverging: true };
    }
    var span = hi - lo || 1;
    return { color: function (v) { return v === null ? "#eeeeee" : lerp(VIRIDIS, (v - lo) / span); }, lo: lo, hi: hi, diverging: false };
  }
  function legendBar(scale) {
    var s = sv("svg", { width: 260, height: 30, "class": "colorbar" });
    for (var i = 0; i < 50; i++) {
      var t = i / 49, v = scale.lo + t * (scale.hi - scale.lo);
      add(s, sv("rect", { x: 10 + i * 4.8, y: 2, width: 5, height: 12, fill: scale.color(v) }));
    }
    add(s, sv("text", { x: 10, y: 27, "class": "axis" }, fmt(scale.lo)));
    add(s, sv("text", { x: 250, y: 27, "class": "axis", "text-anchor": "end" }, fmt(scale.hi)));
    return s;
  }

  // -- the layer x head heatmap ---------------------------------------------------------------
  // values: [L*H] (row-major, layer-major); opts: {diverging, marks: {k: note}, tip(k) -> [lines], onClick(k), id}
  function heatmap(values, opts) {
    var cw = H > 16 ? 18 : 30, ch = L > 16 ? 16 : 24, left = 42, top = 24;
    var scale = opts.scale || scaleOf(values, opts.diverging);
    var s = sv("svg", { width: left + H * cw + 8, height: top + L * ch + 6, "class": "heatmap", role: "img" });
    if (opts.id) s.setAttribute("id", opts.id);
    for (var h = 0; h < H; h++) add(s, sv("text", { x: left + h * cw + cw / 2, y: 14, "class": "axis", "text-anchor": "middle" }, "H" + (h + 1)));
    for (var l = 0; l < L; l++) add(s, sv("text", { x: left - 6, y: top + l * ch + ch / 2 + 4, "class": "axis", "text-anchor": "end" }, "L" + (l + 1)));
    var marks = opts.marks || {};
    values.forEach(function (v, k) {
      var l = Math.floor(k / H), h = k % H;
      var r = sv("rect", { x: left + h * cw, y: top + l * ch, width: cw, height: ch, fill: scale.color(v), "class": "cell",
        "data-layer": l, "data-head": h, "data-k": k });
      var lines = function () {
        var out = opts.tip ? opts.tip(k) : [headLabel(k), fmt(v)];
        if (marks[k]) out = out.concat(["\u2605 " + marks[k]]);
        return out;
      };
      r.setAttribute("aria-label", lines().join("; "));
      tooltip(r, lines);
      if (opts.onClick) r.addEventListener("click", function () { opts.onClick(k); });
      add(s, r);
      if (marks[k]) {
        add(s, sv("circle", { cx: left + h * cw + cw / 2, cy: top + l * ch + ch / 2, r: 4.2, "class": "mark", "data-k": k }));
      }
    });
    var wrap = el("div", { "class": "heatmap-wrap" });
    add(wrap, s, legendBar(scale));
    return wrap;
  }

  // -- sortable, filterable tables ------------------------------------------------------------
  function decodeColumn(c) { return (c && c.dict) ? c.codes.map(function (i) { return c.dict[i]; }) : c; }
  function dataTable(spec, opts) {
    opts = opts || {};
    var cols = spec.columns, kinds = spec.kinds || cols.map(function () { return "str"; });
    var data = spec.data.map(decodeColumn);
    var n = data.length ? data[0].length : 0;
    var rows = []; for (var i = 0; i < n; i++) rows.push(i);
    var page = opts.page || 50, shown = page, sortCol = -1, asc = true, filter = "";
    var wrap = el("div", { "class": "table-wrap" });
    var controls = el("div", { "class": "pager" });
    var search = el("input", { type: "search", placeholder: "filter rows", "aria-label": "filter rows" });
    var info = el("span");
    var more = el("button", { type: "button" }, "show more");
    var table = el("table", { "class": "data" });
    var thead = el("thead"), tbody = el("tbody"), tr = el("tr");
    if (n > 12) add(controls, search);
    add(controls, info, more);
    cols.forEach(function (c, j) {
      var th = el("th", { "class": "sortable", scope: "col", title: "sort by " + c }, c);
      th.addEventListener("click", function () {
        asc = sortCol === j ? !asc : true; sortCol = j; draw();
        Array.prototype.forEach.call(tr.children, function (x) { x.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      });
      add(tr, th);
    });
    add(thead, tr); add(table, thead, tbody);
    search.addEventListener("input", function () { filter = search.value.toLowerCase(); shown = page; draw(); });
    more.addEventListener("click", function () { shown += page * 4; draw(); });
    function cmp(a, b) {
      var x = data[sortCol][a], y = data[sortCol][b];
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
      if (y === null || y === undefined) return -1;
      var r = (kinds[sortCol] === "num") ? x - y : String(x).localeCompare(String(y));
      return asc ? r : -r;
    }
    function draw() {
      var order = rows.slice();
      if (filter) order = order.filter(function (i) { return data.some(function (c) { return String(c[i]).toLowerCase().indexOf(filter) >= 0; }); });
      if (sortCol >= 0) order.sort(cmp);
      tbody.textContent = "";
      order.slice(0, shown).forEach(function (i) {
        var r = el("tr");
        if (opts.highlight && opts.highlight(i, data)) r.setAttribute("class", "sig");
        data.forEach(function (c, j) { add(r, el("td", kinds[j] === "num" ? { "class": "num" } : null, (isPColumn(cols[j]) ? fmtP : fmt)(c[i]))); });
        add(tbody, r);
      });
      var total = spec.rows !== undefined ? spec.rows : n;
      info.textContent = Math.min(shown, order.length) + " of " + order.length + " rows" +
        (filter ? " matching" : "") + (total > n ? " (the first " + n + " of " + total + " stored rows are embedded)" : "");
      more.hidden = order.length <= shown;
    }
    draw();
    add(wrap, controls, table);
    return wrap;
  }
  function rowsTable(headers, rows, kinds, opts) {
    var data = headers.map(function (_, j) { return rows.map(function (r) { return r[j]; }); });
    kinds = kinds || headers.map(function (_, j) { return rows.length && typeof rows[0][j] === "number" ? "num" : "str"; });
    return dataTable({ columns: headers, kinds: kinds, data: data }, opts);
  }
  function kvTable(pairs) {
    var t = el("table", { "class": "kv" });
    pairs.forEach(function (p) {
      if (p[1] === undefined) return;
      var r = el("tr");
      add(r, el("th", { scope: "row" }, p[0]), el("td", null, p[1] === null ? "n/a" : (typeof p[1] === "object" ? JSON.stringify(p[1]) : fmt(p[1]))));
      add(t, r);
    });
    return t;
  }
  function jsonBlock(title, obj) {
    var d = el("details");
    add(d, el("summary", null, title), el("pre", null, JSON.stringify(obj, null, 2)));
    return d;
  }
  function select(label, options, onChange, id) {
    var wrap = el("label"), s = el("select", id ? { id: id } : null);
    options.forEach(function (o) {
      if (o.group) {
        var g = el("optgroup", { label: o.group });
        o.options.forEach(function (x) { add(g, el("option", { value: x.value }, x.text)); });
        add(s, g);
      } else add(s, el("option", { value: o.value }, o.text));
    });
    s.addEventListener("change", function () { onChange(s.value); });
    add(wrap, document.createTextNode(label + " "), s);
    return { node: wrap, select: s };
  }

  // -- sections -------------------------------------------------------------------------------
  var nav = document.getElementById("nav");
  function section(id, title, short) {
    var s = el("section", { id: id });
    add(s, el("h2", null, title));
    add(main, s);
    add(nav, el("a", { href: "#" + id }, short || title));
    return s;
  }
  function outputsOf(name) { return (D.sections && D.sections[name]) || []; }
  var HOW = {
    roles: "run with --analyses roles, or `headlens roles RUN`",
    syntax: "run with --analyses syntax, then `headlens syntax RUN`",
    cluster: "run with --analyses cluster, then `headlens cluster RUN`",
    categories: "run with --analyses categories",
    compare: "`headlens compare BEFORE RUN`, or `headlens report RUN --compare BEFORE`",
    decomposition: "run with --analyses decomposition",
    patterns: "run with --analyses patterns",
    ablation: "`headlens ablate ... --out DIR`, then `headlens report RUN --ablation DIR`",
    layers: "run with --analyses layers, then `headlens layers RUN`",
    attribution: "run with --analyses attribution",
    probe: "`headlens demo`, or `headlens report RUN --probe FILE` for the syntax section"
  };
  function absent(s, name) { note(s, "Not in this run (" + HOW[name] + ").", "absent"); }
  // a section with one block per stored output of an analysis (its source, its view), or a note that there is none
  function eachOutput(name, title, short, block) {
    var s = section(name, title, short), outs = outputsOf(name);
    if (!outs.length) return absent(s, name);
    outs.forEach(function (o, n) { block(s, o, o.view, n); });
  }

  // provenance
  function provenance() {
    var r = D.run, s = section("provenance", "Provenance");
    var c = r.counts || {};
    add(s, kvTable([
      ["run", r.path], ["status", r.status], ["model", r.model.name], ["model path", r.model.path],
      ["weights sha256", r.model.weights_sha256],
      ["architecture", (r.model.model_type || "") + ", " + r.model.num_layers + " layers x " + r.model.num_heads + " heads, hidden " + r.model.hidden_size],
      ["dtype / device", r.model.dtype + " / " + r.model.device], ["tokenizer", r.tokenizer],
      ["corpus", r.corpus.path], ["corpus sha256", r.corpus.sha256], ["format", r.corpus.format],
      ["annotator", r.annotator], ["analyses", (r.analyses || []).join(", ")], ["word aggregation", r.word_aggregation],
      ["original code replicated", r.replicate || "none (headlens's definitions; docs/fidelity.md)"],
      ["sentences", (c.analysed || 0) + " analysed, " + (c.skipped || 0) + " skipped of " + (c.read || 0) + " read; " + (c.tokens || 0) + " tokens"],
      ["error", r.error || undefined]
    ]));
    var more = el("details");
    add(more, el("summary", null, "more provenance"), kvTable([
      ["special tokens", r.special_tokens], ["skipped by reason", c.skipped_by_reason],
      ["started / finished", (r.started || "") + " / " + (r.finished || "")], ["seconds", r.seconds],
      ["versions", r.versions], ["report generated", D.generated]]));
    add(s, more);
    if (D.compare) {
      var o = D.compare.other;
      add(s, el("h3", null, "Compared with"));
      add(s, kvTable([["run", o.path], ["model", o.model.name], ["weights sha256", o.model.weights_sha256],
        ["corpus sha256", o.corpus.sha256], ["comparison", D.compare.how]]));
    }
    add(s, jsonBlock("full configuration", r.config));
    if (D.notes && D.notes.length) {
      var n = el("div", { "class": "notes" });
      D.notes.forEach(function (t) { add(n, el("div", null, t)); });
      add(s, n);
    }
  }

  // the per-head heatmap of every metric
  var headViewApi = null;
  function heads() {
    var s = section("heads", "Heads: layer x head, per metric", "Heads");
    var names = D.metrics.map(function (m) { return m.name; });
    if (!names.length) { note(s, "This run has no per-head metric.", "absent"); return; }
    note(s, "Mean over the sentences where the metric is defined (heads.parquet). Hover a cell for its value; \u2605 marks a head that passed a corrected test of a stored analysis (the tooltip names it). Click a cell to show that head in the head view.");
    var groups = {};
    D.metrics.forEach(function (m) { var g = m.analysis || "other"; (groups[g] = groups[g] || []).push({ value: m.name, text: m.name }); });
    var opts = Object.keys(groups).map(function (g) { return { group: g, options: groups[g] }; });
    var controls = el("div", { "class": "controls" });
    var holder = el("div", { "class": "row" });
    var side = el("div", { "class": "panel" });
    var desc = el("p", { "class": "note", id: "metric-description" });
    var sel = select("metric", opts, draw, "metric-select");
    add(controls, sel.node);
    add(s, controls, desc, holder);
    var start = names.indexOf("prev") >= 0 ? "prev" : names[0];
    sel.select.value = start;
    function draw(metric) {
      var info = D.metrics[names.indexOf(metric)], v = D.values[metric];
      var d = info.description || "";
      desc.textContent = d + (info.level && d.indexOf(info.level + " level") < 0 ? " (" + info.level + " level)" : "");
      var marks = {}, sources = [];
      (D.marks[metric] || []).forEach(function (m) { sources.push(m.source); m.cells.forEach(function (c) { marks[c[0]] = (marks[c[0]] ? marks[c[0]] + "; " : "") + c[1]; }); });
      var stat = v.stat || "mean";  // dep_<rel>_<dir>: the accuracy (report.collect), hits and arcs beside
      var signed = v.mean.some(function (x) { return x !== null && x < 0; }) && v.mean.some(function (x) { return x !== null && x > 0; });
      var hm = heatmap(v.mean, {
        id: "heads-heatmap", diverging: signed, marks: marks,
        tip: function (k) { return [headLabel(k) + "  " + metric, stat + " " + fmt(v.mean[k]) + (v.hits ? " (" + fmt(v.hits[k]) + " of " + fmt(v.arcs[k]) + " arcs)" : ""), "std " + fmt(v.std[k]) + ", n " + fmt(v.count[k])]; },
        onClick: function (k) { if (headViewApi) headViewApi.show(Math.floor(k / H), k % H); }
      });
      holder.textContent = "";
      side.textContent = "";
      add(side, el("h4", null, "top heads"));
      var order = v.mean.map(function (x, k) { return k; }).filter(function (k) { return v.mean[k] !== null; })
        .sort(function (a, b) { return v.mean[b] - v.mean[a]; }).slice(0, 8);
      add(side, v.hits ? rowsTable(["head", stat, "hits", "arcs"], order.map(function (k) { return [headLabel(k), v.mean[k], v.hits[k], v.arcs[k]]; }), ["str", "num", "num", "num"])
        : rowsTable(["head", stat, "n"], order.map(function (k) { return [headLabel(k), v.mean[k], v.count[k]]; }), ["str", "num", "num"]));
      if (sources.length) add(side, el("p", { "class": "note" }, "\u2605 from: " + sources.join(", ")));
      add(holder, hm, side);
    }
    draw(start);
  }

  // word-level head view of the chosen sentences
  function f16(h) {
    var sgn = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0) return sgn * Math.pow(2, -14) * (f / 1024);
    if (e === 31) return f ? NaN : sgn * Infinity;
    return sgn * Math.pow(2, e - 15) * (1 + f / 1024);
  }
  function decodeF16(b64) {
    var bin = atob(b64), n = bin.length / 2, out = new Float32Array(n);
    for (var i = 0; i < n; i++) out[i] = f16(bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8));
    return out;
  }
  function headView() {
    var s = section("head-view", "Head view: word-level attention", "Head view");
    var hv = D.head_view || { sentences: [] };
    if (!hv.sentences.length) {
      note(s, "No sentence was chosen (headlens report RUN --sentences N or --sentence-ids ID,ID).", "absent");
      return;
    }
    note(s, "Lines join each word on the left (query) to the words it attends to on the right (key); their opacity is the attention weight, aggregated to words (" + hv.aggregation + "). Hover a word to see only its lines.");
    var cache = {}, cur = { s: 0, l: 0, h: 0 }, focus = null;
    var controls = el("div", { "class": "controls" });
    var sSel = select("sentence", hv.sentences.map(function (x, i) {
      var t = x.text + (x.text_b ? " || " + x.text_b : "");
      return { value: i, text: "#" + x.id + ": " + (t.length > 70 ? t.slice(0, 70) + "\u2026" : t) };
    }), function (v) { cur.s = +v; draw(); }, "hv-sentence");
    var lSel = select("layer", range(L).map(function (l) { return { value: l, text: "L" + (l + 1) }; }), function (v) { cur.l = +v; draw(); }, "hv-layer");
    var hSel = select("head", range(H).map(function (h) { return { value: h, text: "H" + (h + 1) }; }), function (v) { cur.h = +v; draw(); }, "hv-head");
    add(controls, sSel.node, lSel.node, hSel.node);
    var text = el("div", { "class": "sentence-text", id: "hv-text" });
    var source = el("p", { "class": "note" });
    var pic = el("div", { id: "hv-picture" });
    add(s, controls, text, source, pic);
    function maps(i) { if (!cache[i]) cache[i] = decodeF16(hv.sentences[i].attn); return cache[i]; }
    function draw() {
      var x = hv.sentences[cur.s], u = x.units.length, a = maps(cur.s);
      text.textContent = x.text + (x.text_b ? "\n" + x.text_b : "");
      source.textContent = "sentence " + x.id + (x.sent_id ? " (" + x.sent_id + ")" : "") + "; maps: " + x.source + "; " + u + " units";
      var rowH = 20, width = 560, lx = 200, rx = 360, top = 22;
      var g = sv("svg", { width: width, height: top + u * rowH + 8, id: "hv-svg", "data-layer": cur.l, "data-head": cur.h, "data-sentence": x.id });
      add(g, sv("text", { x: lx, y: 12, "class": "axis", "text-anchor": "end" }, "from (query)"));
      add(g, sv("text", { x: rx, y: 12, "class": "axis" }, "to (key)"));
      var base = (cur.l * H + cur.h) * u * u, lines = [];
      for (var i = 0; i < u; i++) for (var j = 0; j < u; j++) {
        var w = a[base + i * u + j];
        if (!(w >= 0.005)) continue;
        var ln = sv("line", { x1: lx + 6, y1: top + i * rowH + rowH / 2, x2: rx - 6, y2: top + j * rowH + rowH / 2,
          "class": "attn", "stroke-width": 2, "stroke-opacity": Math.min(1, w).toFixed(3), "data-from": i, "data-to": j });
        lines.push(ln); add(g, ln);
      }
      function label(i, side) {
        var t = sv("text", { x: side ? rx : lx, y: top + i * rowH + rowH / 2 + 4, "text-anchor": side ? "start" : "end",
          "class": "unit" + (x.kinds[i] === "word" ? "" : " special"), "data-unit": i, "data-side": side ? "to" : "from" }, x.units[i]);
        t.addEventListener("mouseenter", function () {
          lines.forEach(function (ln) { ln.setAttribute("visibility", (+ln.getAttribute(side ? "data-to" : "data-from")) === i ? "visible" : "hidden"); });
          t.classList.add("active");
        });
        t.addEventListener("mouseleave", function () { lines.forEach(function (ln) { ln.removeAttribute("visibility"); }); t.classList.remove("active"); });
        tooltip(t, function () {
          var out = [x.units[i] + (side ? " receives" : " attends to")], pairs = [];
          for (var k = 0; k < u; k++) pairs.push([k, side ? a[base + k * u + i] : a[base + i * u + k]]);
          pairs.sort(function (p, q) { return q[1] - p[1]; });
          pairs.slice(0, 5).forEach(function (p) { out.push(x.units[p[0]] + "  " + p[1].toFixed(3)); });
          return out;
        });
        add(g, t);
      }
      for (var k = 0; k < u; k++) { label(k, false); label(k, true); }
      pic.textContent = ""; add(pic, g);
    }
    headViewApi = {
      show: function (l, h) { cur.l = l; cur.h = h; lSel.select.value = l; hSel.select.value = h; draw(); s.scrollIntoView(); }
    };
    draw();
  }
  function range(n) { var r = []; for (var i = 0; i < n; i++) r.push(i); return r; }

  // model view, token/word toggle, q.k view and before/after (views.js)
  var modelViewApi = null;
  function modelView() {
    var s = section("model-view", "Model view: every head; tokens or words; q.k; before / after", "Model view");
    var hv = D.head_view || { sentences: [] };
    if (!hv.sentences.length) { note(s, "No sentence has stored maps (headlens run --store-maps IDS stores them).", "absent"); return; }
    modelViewApi = headlensViews(helpers()).modelView(s, hv);
  }
  // what views.js and the analyses' own scripts (HEADLENS_SECTION_VIEWS, html.section_scripts) draw with
  function helpers() {
    return { el: el, sv: sv, add: add, fmt: fmt, fmtP: fmtP, note: note, select: select, tooltip: tooltip, lerp: lerp,
      diverging: diverging, legendBar: legendBar, decodeF16: decodeF16, headLabel: headLabel, rowsTable: rowsTable,
      categorical: CATEGORICAL, layers: L, heads: H, data: D };
  }
  var SECTION_VIEWS = typeof HEADLENS_SECTION_VIEWS === "undefined" ? {} : HEADLENS_SECTION_VIEWS;

  // roles
  function roles() {
    eachOutput("roles", "Head roles", "Roles", function (s, o, v) {
      add(s, el("h3", null, o.source));
      note(s, "A head has a role when the mean sieve score exceeds tau = " + fmt(v.tau) + " (decision: " + (v.decision || "?") + ", alpha " + v.alpha + ", corrected over the whole family" +
        (v.family.t ? ": " + v.family.t.size + " tests, " + v.family.t.method : "") + "). CI of the mean: " +
        (v.ci_method || "percentile") + (/interval|bootstrap|\(/.test(v.ci_method || "") ? "" : " bootstrap") + ".");
      add(s, rowsTable(["role", "heads", "tested", "heads with the role: mean [95% CI]"], v.roles.map(function (r) {
        return [r.role, r.count, r.tested, r.heads.slice(0, 12).map(function (x) { return labelOf(x[0], x[1]) + " " + fmt(x[2]) + " [" + fmt(x[3]) + ", " + fmt(x[4]) + "]"; }).join(", ") + (r.heads.length > 12 ? " (+" + (r.heads.length - 12) + ")" : "")];
      }), ["str", "num", "num", "str"]));
      var row = el("div", { "class": "row" });
      if (v.colocation && v.colocation.roles && v.colocation.roles.length) {
        var p = el("div");
        add(p, el("h4", null, "co-location: heads with both roles (row role, column role)"));
        add(p, matrixTable(v.colocation.roles, v.colocation.roles, v.colocation.both, v.colocation.share, "share of the row role's heads"));
        add(row, p);
      }
      if (v.per_layer && v.per_layer.roles && v.per_layer.roles.length) {
        var q = el("div");
        add(q, el("h4", null, "heads per layer"));
        add(q, matrixTable(v.per_layer.roles, range(L).map(function (l) { return "L" + (l + 1); }), v.per_layer.counts, null, "heads"));
        add(row, q);
      }
      add(s, row);
    });
  }
  // a shaded matrix as a table: rows x cols of numbers (shade by value or by shade matrix)
  function matrixTable(rowNames, colNames, values, shade, what) {
    var box = el("div", { "class": "scroll" }), t = el("table", { "class": "matrix" }), hr = el("tr");
    add(box, t);
    add(hr, el("th"));
    colNames.forEach(function (c) { add(hr, el("th", { scope: "col" }, c)); });
    add(t, hr);
    var flat = [].concat.apply([], shade || values).filter(function (x) { return x !== null && isFinite(x); });
    var hi = flat.length ? Math.max.apply(null, flat) : 1;
    rowNames.forEach(function (r, i) {
      var tr = el("tr");
      add(tr, el("th", { scope: "row" }, r));
      colNames.forEach(function (c, j) {
        var v = values[i][j], sh = shade ? shade[i][j] : v;
        var td = el("td", { "class": "num" }, fmt(v));
        if (sh !== null && isFinite(sh) && hi > 0) td.style.backgroundColor = lerp([[255, 255, 255], [120, 170, 222]], sh / hi);
        tooltip(td, function () { return [r + " / " + c, what + ": " + fmt(sh)]; });
        add(tr, td);
      });
      add(t, tr);
    });
    return box;
  }

  // syntax and probes
  function syntax() {
    var s = section("syntax", "Syntax: dependency heads and probes", "Syntax");
    var outs = outputsOf("syntax");
    if (!outs.length && !(D.probes && D.probes.length)) return absent(s, "syntax");
    outs.forEach(function (o) {
      var v = o.view;
      add(s, el("h3", null, o.source + ": best head per relation against the best fixed-offset baseline"));
      note(s, "Accuracy = share of the relation's arcs whose head word is the head's most attended word; the CI is the best head's own (picking the best is optimistic). Beats the baseline: corrected paired bootstrap q <= " + v.alpha + ".");
      add(s, rowsTable(["relation", "head", "direction", "accuracy", "hits", "arcs", "95% CI", "baseline offset", "baseline accuracy", "delta", "q", "beats baseline", "flags"],
        v.best.map(function (r) {
          return [r.relation, labelOf(r.layer, r.head), r.direction, r.accuracy, r.hits, r.arcs, "[" + fmt(r.ci_low) + ", " + fmt(r.ci_high) + "]",
            r.baseline_offset, r.baseline_accuracy, r.delta, r.q, r.beats_baseline ? "yes" : "no",
            !r.status || r.status === "ok" ? "" : (r.q === null || r.q === undefined ? "not estimable: " : "") + r.status];
        }), ["str", "str", "str", "num", "num", "num", "str", "num", "num", "num", "num", "str", "str"],
        { highlight: function (i, data) { return data[11][i] === "yes"; } }));
      if (v.baselines && v.baselines.relations) {
        add(s, el("h4", null, "offset baselines: accuracy of 'the head is the word at offset k'"));
        add(s, matrixTable(v.baselines.relations, v.baselines.offsets.map(function (o) { return (o > 0 ? "+" : "") + o; }), v.baselines.accuracy, null, "accuracy"));
      }
    });
    (D.probes || []).forEach(function (p) {
      add(s, el("h3", null, "probe: " + p.path));
      var rows = Object.keys(p.uas).map(function (k) {
        var vs = (p.versus_right_branching || {})[k];
        return [k, p.uas[k], vs ? vs.delta : null, vs ? "[" + fmt(vs.ci_low) + ", " + fmt(vs.ci_high) + "]" : "", vs ? vs.p : null];
      });
      note(s, "trained on " + p.train_sentences + " sentences, scored on " + p.eval_sentences + " (" + p.scored_words + " words, punctuation excluded); features " + ((p.settings || {}).features || "?"));
      add(s, rowsTable(["probe", "UAS", "vs right-branching", "95% CI", "p"], rows, ["str", "num", "num", "str", "num"]));
      if (p.pairwise) add(s, kvTable([["pairwise arc accuracy", fraction(p.pairwise.arc_accuracy) + " of " + p.pairwise.arc_n + " balanced pairs (chance 0.5)"],
        ["pairwise relation accuracy", fraction(p.pairwise.relation_accuracy) + " of " + p.pairwise.relation_n + " arcs (majority " + fraction(p.pairwise.relation_majority) + ")"]]));
    });
  }

  // head clustering map
  function cluster() {
    eachOutput("cluster", "Head clustering map", "Clustering", function (s, o, v) {
      var lc = v.layer_clustering || {};
      add(s, el("h3", null, o.source));
      note(s, "Metric MDS of the Jensen-Shannon distances between heads (stress-1 " + fmt(v.stress1) + ", " + fmt(v.tokens) + " tokens). Heads of one layer: within/between distance ratio " + fmt(lc.within_between_ratio) + " (permutation null mean " + fmt(lc.null_mean) + ", p " + fmt(lc.p) + ").");
      var kinds = []; v.points.forEach(function (p) { if (kinds.indexOf(p[4]) < 0) kinds.push(p[4]); });
      var size = 440, pad = 24;
      var xs = v.points.map(function (p) { return p[0]; }), ys = v.points.map(function (p) { return p[1]; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var span = Math.max(x1 - x0, y1 - y0) || 1;
      var g = sv("svg", { width: size, height: size, id: "cluster-map", "class": "scatter" });
      add(g, sv("rect", { x: 0.5, y: 0.5, width: size - 1, height: size - 1, fill: "none", stroke: "#d8dde3" }));
      v.points.forEach(function (p) {
        var cx = pad + (p[0] - x0) / span * (size - 2 * pad), cy = size - pad - (p[1] - y0) / span * (size - 2 * pad);
        var c = sv("circle", { cx: cx.toFixed(1), cy: cy.toFixed(1), r: 5, fill: CATEGORICAL[kinds.indexOf(p[4]) % 10], "fill-opacity": 0.85, stroke: "#fff", "class": "point" });
        tooltip(c, function () { return [labelOf(p[2], p[3]), "behaviour: " + p[4]]; });
        add(g, c);
        add(g, sv("text", { x: (cx + 6).toFixed(1), y: (cy + 3).toFixed(1), "class": "axis" }, (p[2] + 1) + "-" + (p[3] + 1)));
      });
      var leg = el("div", { "class": "legend" });
      kinds.forEach(function (k, i) { var it = el("span"); var sw = el("span", { "class": "swatch" }); sw.style.backgroundColor = CATEGORICAL[i % 10]; add(it, sw, document.createTextNode(k + " (" + (v.behaviours[k] || 0) + ")")); add(leg, it); });
      add(s, g, leg);
      note(s, "behaviour thresholds: " + JSON.stringify(v.thresholds));
    });
  }

  // lexical categories
  function categories() {
    eachOutput("categories", "Lexical categories", "Categories", function (s, o, v) {
      add(s, el("h3", null, o.source + ": attention between content and function words, per layer"));
      note(s, "Rows: the query word's category, columns: the key word's; mean attention per word pair (keys " + (v.category_keys || "?") + "). The per-head cat_pref heatmap is in the Heads view, with its significant heads marked.");
      var sm = el("div", { "class": "small-multiples" });
      v.matrices.forEach(function (m, l) {
        var box = el("div");
        add(box, el("h4", null, "L" + (l + 1)));
        add(box, matrixTable(["content", "function"], ["content", "function"], m, null, "mean attention"));
        add(sm, box);
      });
      add(s, sm);
      if (v.pref_layers.length) {
        add(s, el("h4", null, "content preference per layer (cat_pref = received by content - by function words; two-sided t, corrected)"));
        add(s, rowsTable(["layer", "cat_pref", "95% CI", "q", "significant"], v.pref_layers.map(function (r) {
          return ["L" + (r[0] + 1), r[1], "[" + fmt(r[2]) + ", " + fmt(r[3]) + "]", r[4], r[5] ? "yes" : "no"];
        }), ["str", "num", "str", "num", "str"], { highlight: function (i, d) { return d[4][i] === "yes"; } }));
      }
    });
  }

  // before/after comparisons
  function compare() {
    eachOutput("compare", "Compare: before / after", "Compare", function (s, o, v, n) {
      add(s, el("h3", null, o.name + " (" + o.source + ")"));
      note(s, "Click a head to see its before and after maps in the model view. delta = after - before, paired over " + fmt(v.sentences_paired) + " sentences. before: " + ((v.before || {}).path || "?") + " (" + ((v.before || {}).model || "?") + "); after: " + ((v.after || {}).path || "?") + " (" + ((v.after || {}).model || "?") + "). " + (v.decision || "") + ".");
      if (v.forced_despite && v.forced_despite.length) note(s, "compared despite: " + v.forced_despite.join("; "));
      if (v.margins) note(s, v.margins + ".");
      Object.keys(v.verdicts || {}).forEach(function (level) {
        var c = v.verdicts[level];
        note(s, level + ": " + ["changed", "equivalent", "inconclusive"].map(function (k) { return fmt(c[k] || 0) + " " + k; }).join(", ") + ".");
      });
      var controls = el("div", { "class": "controls" }), holder = el("div", { "class": "row" });
      var counts = {};
      v.changes.forEach(function (r) { counts[r[0]] = (counts[r[0]] || 0) + 1; });
      var sel = select("metric", v.metrics.map(function (m) { return { value: m, text: m + (counts[m] ? " (" + counts[m] + " changed)" : "") }; }), draw, "compare-metric-" + n);
      add(controls, sel.node);
      add(s, controls, holder);
      function draw(m) {
        var p = v.per_metric[m], marks = {};
        Object.keys(p.changed).forEach(function (k) { marks[k] = "changed: " + p.changed[k]; });
        holder.textContent = "";
        add(holder, heatmap(p.delta, { diverging: true, marks: marks, id: "compare-heatmap-" + n,
          onClick: function (k) { if (modelViewApi) modelViewApi.show(Math.floor(k / H), k % H); },
          tip: function (k) { return [headLabel(k) + "  " + m, "before " + fmt(p.before[k]) + ", after " + fmt(p.after[k]), "delta " + fmt(p.delta[k]) + ", q " + fmtP(p.q[k]),
            (p.verdict ? (p.verdict[k] || "") : "") + (p.margin ? " (margin " + fmt(p.margin[k]) + ")" : "")]; } }));
      }
      var first = v.metrics.filter(function (m) { return counts[m]; })[0] || v.metrics[0];
      sel.select.value = first; draw(first);
      add(s, el("h4", null, "changes per head beyond the margin (" + v.changes.length + "), largest effect first"));
      add(s, rowsTable(["metric", "head", "before", "after", "delta", "95% CI", "effect (d)", "q", "direction"], v.changes.map(function (r) {
        return [r[0], labelOf(r[1], r[2]), r[3], r[4], r[5], "[" + fmt(r[6]) + ", " + fmt(r[7]) + "]", r[8], r[9], r[10]];
      }), ["str", "str", "num", "num", "num", "str", "num", "num", "str"]));
      if (v.layers.length) {
        add(s, el("h4", null, "per layer (head mean per sentence)"));
        add(s, rowsTable(["metric", "layer", "before", "after", "delta", "q", "changed", "verdict"], v.layers.map(function (r) {
          return [r[0], "L" + (r[1] + 1), r[2], r[3], r[4], r[5], r[6], r[7] || ""];
        }), ["str", "str", "num", "num", "num", "num", "str", "str"], { highlight: function (i, d) { return !!d[6][i]; } }));
      }
    });
  }

  // attention pattern types
  function patterns() {
    eachOutput("patterns", "Attention pattern types", "Patterns", function (s, o, v) {
      note(s, "Each head coloured by its most frequent pattern type (the pattern_is_* metric with the highest mean: the share of its maps of that type, Kovaleva et al. 2019); hover for every type's share.");
      var colors = v.types.map(function (_, i) { return CATEGORICAL[i % 10]; });
      var scale = { color: function (t) { return t === null ? "#eeeeee" : colors[t]; }, lo: 0, hi: v.types.length - 1 };
      var hm = heatmap(v.dominant, { scale: scale, id: "pattern-map", tip: function (k) {
        return [headLabel(k) + ": " + (v.dominant[k] === null ? "n/a" : v.types[v.dominant[k]])].concat(v.metrics.map(function (m) { return m + " " + fmt(D.values[m].mean[k]); }));
      } });
      hm.removeChild(hm.lastChild); // a categorical map has no colour bar
      var leg = el("div", { "class": "legend" });
      v.types.forEach(function (t, i) { var it = el("span"), sw = el("span", { "class": "swatch" }); sw.style.backgroundColor = colors[i]; add(it, sw, document.createTextNode(t)); add(leg, it); });
      add(s, hm, leg);
      add(s, el("h4", null, "mean share per layer"));
      add(s, rowsTable(["type"].concat(range(L).map(function (l) { return "L" + (l + 1); })), v.metrics.map(function (m, i) {
        return [v.types[i]].concat(v.per_layer[m]);
      })));
      if (v.features.length) note(s, "pattern features (in the Heads view): " + v.features.join(", "));
    });
  }

  // ablation deltas
  function ablation() {
    eachOutput("ablation", "Ablation deltas", "Ablation", function (s, o, v, n) {
      add(s, el("h3", null, o.source));
      if (!v.panels.length) { note(s, "no per-head delta table (columns layer, head, delta) in this output; its tables are listed below."); return; }
      note(s, "Change of the measured quantity when the head is ablated; \u2605 = significant (q <= " + v.alpha + " or the table's decision).");
      var controls = el("div", { "class": "controls" }), holder = el("div");
      var sel = select("ablation", v.panels.map(function (p, i) {
        return { value: i, text: p.table + (Object.keys(p.key).length ? ": " + Object.keys(p.key).map(function (k) { return k + "=" + p.key[k]; }).join(", ") : "") };
      }), draw, "ablation-select-" + n);
      add(controls, sel.node); add(s, controls, holder);
      function draw(i) {
        var p = v.panels[+i];
        holder.textContent = "";
        var weak = (p.underpowered || []).filter(Boolean).length;
        if (weak) note(holder, "flags: " + weak + " of these ablations are underpowered (the data cannot support a finding either way; hover a cell).");
        if (p.ci_method) note(holder, "CI method: " + p.ci_method + (/poisson/.test(p.ci_method) ? " (the Poisson bootstrap of the streamed statistics, above boot_max_n examples)" : " bootstrap") + ".");
        if (p.verdicts) note(holder, "verdicts (TOST against the margin, as compare): " + Object.keys(p.verdicts).map(function (k) { return k + " " + p.verdicts[k]; }).join(", ") + ".");
        add(holder, heatmap(p.delta, { diverging: true, marks: p.significant, id: "ablation-heatmap-" + n,
          tip: function (k) { return [headLabel(k), "delta " + fmt(p.delta[k]) + " [" + fmt(p.ci_low[k]) + ", " + fmt(p.ci_high[k]) + "]", "q " + fmtP(p.q[k])].concat(p.verdict && p.verdict[k] ? ["verdict: " + p.verdict[k]] : []).concat(p.underpowered && p.underpowered[k] ? ["flag: underpowered"] : []); } }));
        if (p.other.length) { add(holder, el("h4", null, "ablations of more than one head")); add(holder, rowsTable(["ablated", "delta", "ci_low", "ci_high", "q", "decision", "verdict", "flags"], p.other, ["str", "num", "num", "num", "num", "str", "str", "str"])); }
      }
      draw(0);
    });
  }

  // decomposition: mixing ratios
  function lineChart(series, labels, yLabel, id) {
    var w = 520, h = 250, l = 52, b = 28, t = 24, r = 10;
    var all = [];
    Object.keys(series).forEach(function (k) { series[k].forEach(function (v) { if (v !== null) all.push(v); }); });
    var lo = Math.min(0, Math.min.apply(null, all)), hi = Math.max.apply(null, all) || 1;
    var g = sv("svg", { width: w, height: h, id: id, "class": "chart" });
    var n = labels.length;
    function X(i) { return l + (n > 1 ? i / (n - 1) : 0.5) * (w - l - r); }
    function Y(v) { return t + (1 - (v - lo) / (hi - lo || 1)) * (h - t - b); }
    add(g, sv("line", { x1: l, y1: h - b, x2: w - r, y2: h - b, stroke: "#999" }), sv("line", { x1: l, y1: t, x2: l, y2: h - b, stroke: "#999" }));
    [lo, (lo + hi) / 2, hi].forEach(function (v) { add(g, sv("text", { x: l - 4, y: Y(v) + 3, "class": "axis", "text-anchor": "end" }, fmt(v))); });
    labels.forEach(function (lab, i) { add(g, sv("text", { x: X(i), y: h - b + 14, "class": "axis", "text-anchor": "middle" }, lab)); });
    add(g, sv("text", { x: 4, y: 12, "class": "axis" }, yLabel));
    Object.keys(series).forEach(function (k, si) {
      var pts = series[k].map(function (v, i) { return v === null ? null : X(i).toFixed(1) + "," + Y(v).toFixed(1); }).filter(Boolean);
      add(g, sv("polyline", { points: pts.join(" "), fill: "none", stroke: CATEGORICAL[si % 10], "stroke-width": 2 }));
      series[k].forEach(function (v, i) {
        if (v === null) return;
        var c = sv("circle", { cx: X(i), cy: Y(v), r: 3, fill: CATEGORICAL[si % 10] });
        tooltip(c, function () { return [k + ", " + labels[i], fmt(v)]; });
        add(g, c);
      });
    });
    var wrap = el("div"), leg = el("div", { "class": "legend" });
    Object.keys(series).forEach(function (k, i) { var it = el("span"), sw = el("span", { "class": "swatch" }); sw.style.backgroundColor = CATEGORICAL[i % 10]; add(it, sw, document.createTextNode(k)); add(leg, it); });
    add(wrap, g, leg);
    return wrap;
  }
  function decomposition() {
    eachOutput("decomposition", "Decomposition: mixing ratios", "Mixing", function (s, o, v) {
      add(s, el("h3", null, o.source));
      var layers = range(L).map(function (l) { return "L" + (l + 1); });
      if (v.mixing) {
        note(s, "Mixing ratio of each map per layer (mean over all tokens, token-weighted): the share of a token's output that comes from the other tokens.");
        add(s, lineChart(v.mixing.by_layer, layers, "mixing ratio", "mixing-chart"));
        add(s, el("h4", null, "over all layers, by token type"));
        add(s, rowsTable(["map"].concat(v.mixing.groups), v.mixing.maps.map(function (m) { return [m].concat(v.mixing.overall[m]); })));
      }
      if (v.change) { add(s, el("h4", null, "contextualization change (1 - Spearman rho) per layer")); add(s, lineChart(v.change.by_layer, layers, "change", "change-chart")); }
      add(s, kvTable([["feed-forward maps", v.feed_forward ? "yes" : "no"], ["largest completeness error", v.completeness], ["Kobayashi et al. 2021 (BERT-base, mixing ratios as fractions)", v.reference]]));
    });
  }

  // analyses whose view is a list of plain tables (render/blocks.py): layers, attribution, probe
  // an analysis with a script of its own (SECTION_VIEWS[name]) draws its figures per output (``output``) and,
  // once, what the whole section shows (``section``, with D.section_data[name]: the per-sentence data of report.collect)
  function blocks(name, title, short) {
    var own = SECTION_VIEWS[name] || {};
    eachOutput(name, title, short, function (s, o, v, n) {
      add(s, el("h3", null, o.source));
      if (v.note) note(s, v.note);
      if (own.output) own.output(helpers(), s, o, v, n);
      v.blocks.forEach(function (b) {
        add(s, el("h4", null, b.title));
        if (b.note) note(s, b.note);
        add(s, rowsTable(b.columns, b.rows));
      });
    });
    if (own.section) own.section(helpers(), document.getElementById(name), (D.section_data || {})[name]);
  }

  // every stored table, with its params
  function tables() {
    var s = section("tables", "All analysis tables", "Tables");
    if (!D.outputs.length) { note(s, "This run has no analysis outputs besides its scores.", "absent"); return; }
    note(s, "Every table of every finished output directory (RUN/<analysis>/<name>/*.parquet), with its params.json. Click a column to sort.");
    D.outputs.forEach(function (o) {
      var d = el("details", { "class": "output" });
      add(d, el("summary", null, o.analysis + "/" + o.name));
      add(d, jsonBlock("params.json", o.params));
      D.tables.filter(function (t) { return t.analysis === o.analysis && t.name === o.name && t.table; }).forEach(function (t) {
        add(d, el("h4", null, t.table + ".parquet (" + t.rows + " rows)"));
        add(d, dataTable(t));
      });
      add(s, d);
    });
  }

  document.getElementById("title").textContent = D.title;
  provenance(); heads(); headView(); modelView(); roles(); syntax(); cluster(); categories(); compare(); patterns(); ablation(); decomposition();
  blocks("layers", "Layers: probes and geometry per layer", "Layers");
  blocks("attribution", "Attribution across layers", "Attribution");
  blocks("probe", "Attention probes", "Probes");
  tables();
  document.documentElement.setAttribute("data-ready", "1");
})();
