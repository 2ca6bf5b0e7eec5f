/*
 * fsdfs dashboard. Every second it reads the status JSON of the node that
 * serves it (../status, or ?status=URL) and redraws: the cluster's figures
 * (fsdfsd's fsdfs:stats and fsdfs:kn as the node last read them), the node
 * table with fill bars (dead nodes marked), the K-N histogram now and over
 * the last samples kept in the page, and the transfers in flight.
 */
(function () {
  "use strict";

  var HISTORY = 60;
  var SVG = "http://www.w3.org/2000/svg";
  var params = new URLSearchParams(location.search);
  var statusUrl = params.get("status") || "../status";
  var history = [];

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var e = tag.indexOf("svg:") === 0
      ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }

  function bytes(n) {
    if (n === null || n === undefined) { return "–"; }
    var u = ["B", "K", "M", "G", "T", "P"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + u[i];
  }

  function knColor(kn) {
    if (kn <= -2) { return "#922b21"; }
    if (kn === -1) { return "#e74c3c"; }
    if (kn === 0) { return "#f1c40f"; }
    if (kn === 1) { return "#58d68d"; }
    return "#1e8449";
  }

  function setCard(name, text, cls) {
    var b = $("c-" + name);
    b.textContent = text;
    b.parentNode.className = "card" + (cls ? " " + cls : "") + (name === "master" ? " wide" : "");
  }

  function drawCluster(c) {
    var s = c && c.stats;
    var v = function (k) { return s && s[k] !== undefined ? s[k] : null; };
    setCard("files", v("files") === null ? "–" : v("files"));
    setCard("bytes", bytes(v("bytes")));
    setCard("min_kn", v("min_kn") === null ? "–" : v("min_kn"),
            v("min_kn") === null ? "" : v("min_kn") < 0 ? "bad" : "good");
    setCard("under", v("under") === null ? "–" : v("under"), v("under") > 0 ? "bad" : "");
    setCard("lost", v("lost") === null ? "–" : v("lost"), v("lost") > 0 ? "bad" : "");
    setCard("pulls_inflight", v("pulls_inflight") === null ? "–" : v("pulls_inflight"));
    setCard("master", s && s.master ? s.master : "no master", s && s.master ? "" : "bad");
    var age = v("updated") === null ? null : Math.max(0, (Date.now() - v("updated")) / 1000);
    $("c-figures").textContent = s
      ? "master, epoch " + (v("epoch") === null ? "?" : v("epoch"))
        + (age === null ? "" : ", figures " + age.toFixed(1) + " s old"
        + (age > 5 ? " (STALE)" : ""))
      : "no figures from fsdfsd";
  }

  function drawNodes(nodes) {
    var tb = $("nodes").tBodies[0];
    clear(tb);
    var dead = 0;
    nodes.forEach(function (n) {
      var cls = "node " + (n.alive ? "alive" : "dead") + (n.self ? " self" : "");
      if (!n.alive) { dead++; }
      var tr = el("tr", { "class": cls, "data-id": n.id });
      tr.appendChild(el("td", {}, n.id));
      tr.appendChild(el("td", { "class": "name", title: n.url }, n.name || n.url));
      tr.appendChild(el("td", { "class": "state" },
                        (n.alive ? "up" : "DEAD") + (n.active ? "" : " · " + "draining")));
      var pct = n.quota > 0 ? Math.min(100, 100 * n.used / n.quota) : 0;
      var bar = el("div", { "class": "bar" });
      var fill = el("div", { "class": "fill" + (pct >= 95 ? " full" : pct >= 80 ? " high" : ""),
                             style: "width:" + pct.toFixed(1) + "%" });
      bar.appendChild(fill);
      bar.appendChild(el("span", {}, n.quota > 0 ? pct.toFixed(0) + "%" : "no quota"));
      var td = el("td", {});
      td.appendChild(bar);
      tr.appendChild(td);
      tr.appendChild(el("td", {}, bytes(n.used) + " / " + (n.quota > 0 ? bytes(n.quota) : "–")));
      tr.appendChild(el("td", {}, n.files));
      tr.appendChild(el("td", {}, n.load));
      tr.appendChild(el("td", {}, n.pulls));
      tb.appendChild(tr);
    });
    $("nodes-count").textContent = nodes.length + " nodes" + (dead ? ", " + dead + " dead" : "");
  }

  function knEntries(kn) {
    return Object.keys(kn || {}).map(Number).sort(function (a, b) { return a - b; })
      .map(function (k) { return [k, kn[k]]; });
  }

  function drawNow(kn) {
    var svg = $("kn-now"), e = knEntries(kn);
    clear(svg);
    if (!e.length) {
      svg.appendChild(el("svg:text", { x: 10, y: 80 }, "no histogram (fsdfs:kn empty)"));
      return;
    }
    var max = Math.max.apply(null, e.map(function (x) { return x[1]; })) || 1;
    var w = 400 / e.length;
    e.forEach(function (x, i) {
      var h = 120 * x[1] / max;
      svg.appendChild(el("svg:rect", { "class": "bar", "data-kn": x[0], "data-files": x[1],
        x: i * w + 4, y: 135 - h, width: Math.max(1, w - 8), height: h, fill: knColor(x[0]) }));
      svg.appendChild(el("svg:text", { x: i * w + w / 2 - 8, y: 152 }, (x[0] > 0 ? "+" : "") + x[0]));
      svg.appendChild(el("svg:text", { x: i * w + w / 2 - 8, y: 131 - h }, x[1]));
    });
  }

  function drawHistory() {
    var svg = $("kn-history");
    clear(svg);
    var w = 400 / HISTORY, seen = {};
    history.forEach(function (kn, i) {
      var e = knEntries(kn), total = 0;
      e.forEach(function (x) { total += x[1]; });
      var y = 150;
      e.forEach(function (x) {
        seen[x[0]] = 1;
        var h = total ? 140 * x[1] / total : 0;
        y -= h;
        svg.appendChild(el("svg:rect", { "class": "bar", "data-kn": x[0],
          x: (HISTORY - history.length + i) * w, y: y, width: Math.max(1, w - 1), height: h,
          fill: knColor(x[0]) }));
      });
    });
    $("kn-samples").textContent = "(" + history.length + " samples, 1 s apart; share of files by K-N)";
    var lg = $("kn-legend");
    clear(lg);
    Object.keys(seen).map(Number).sort(function (a, b) { return a - b; }).forEach(function (k) {
      var s = el("span", {});
      s.appendChild(el("i", { style: "background:" + knColor(k) }));
      s.appendChild(document.createTextNode("K-N " + (k > 0 ? "+" : "") + k));
      lg.appendChild(s);
    });
  }

  function drawTransfers(st) {
    var t = $("transfers"), s = st.cluster && st.cluster.stats, c = st.counters || {};
    clear(t);
    t.appendChild(el("p", {}, "cluster: " + (s ? s.pulls_inflight + " pulls in flight, "
      + s.pulls_done + " done, " + s.pulls_failed + " failed; drops " + s.drops_done
      + " done" : "no figures from fsdfsd")));
    var busy = (st.nodes || []).filter(function (n) { return n.pulls > 0; });
    var p = el("p", {}, busy.length ? "pulling now: " : "no node is pulling now");
    busy.forEach(function (n, i) {
      p.appendChild(el("span", { "class": "pulling" }, (i ? ", " : "") + (n.name || n.id) + " " + n.pulls));
    });
    t.appendChild(p);
    t.appendChild(el("p", { "class": "muted" }, "this node (" + st.node.name + "): "
      + c.pulls_done + " pulls in (" + bytes(c.pulls_bytes) + "), " + c.pulls_failed
      + " failed, " + c.pulls_out + " out (" + bytes(c.pulls_out_bytes) + "); "
      + c.local + " local hits, " + c.redirects + " redirects, cache hit ratio "
      + (st.ratios && st.ratios.cache_hit !== null ? (100 * st.ratios.cache_hit).toFixed(0) + "%" : "–")));
  }

  function draw(st) {
    $("error").hidden = true;
    $("source").textContent = "node " + st.node.name + " (id " + st.node.id + "), redis "
      + (st.redis.up ? "up" : "DOWN") + ", updated " + new Date().toLocaleTimeString();
    drawCluster(st.cluster);
    drawNodes(st.nodes || []);
    history.push((st.cluster && st.cluster.kn) || {});
    if (history.length > HISTORY) { history.shift(); }
    drawNow(st.cluster && st.cluster.kn);
    drawHistory();
    drawTransfers(st);
  }

  function tick() {
    fetch(statusUrl, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("status answered " + r.status); }
        return r.json();
      })
      .then(draw)
      .catch(function (err) {
        $("error").hidden = false;
        $("error").textContent = String(err.message || err);
      })
      .then(function () { setTimeout(tick, 1000); });
  }

  tick();
}());
