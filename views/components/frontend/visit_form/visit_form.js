// Log a visit, on the phone: the place becomes an H3 cell and a district here, and only those,
// with what was handed out, are sent to the server when the peer educator confirms. The tapped
// point (or the phone's location) lives only inside `choose`; it is never kept, stored or sent.
// Speaks Streamlit's component protocol (components v1) by hand: no build step, no npm runtime.
(function () {
  "use strict";

  // --- Streamlit's component messages (what streamlit-component-lib does) ---
  function post(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  }
  function sendValue(value) {
    post("streamlit:setComponentValue", { value: value, dataType: "json" });
  }
  let lastHeight = 0;
  function fitFrame() {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post("streamlit:setFrameHeight", { height: height });
    }
  }

  // --- what the form holds (never a point) ---
  const RETRY_FIRST_MS = 4000; // no answer by then: "not saved yet", and send again
  const RETRY_MAX_MS = 10000;
  const state = {
    args: null,
    channel: "in_person",
    place: null, // {cell, district, name}: what `choose` kept of a point
    problem: "", // why the last tap or location gave no place
    supplies: {},
    referrals: new Set(),
    code: "",
    stage: "form", // form | confirm
    pending: null, // {form, since}: a visit sent and not yet acknowledged by the server
    note: null, // {kind: "ok" | "error" | "wait", text}
    id: newId(),
    seq: 0, // each send is a new value, so the server sees a re-send as new
    retry: null,
    retryMs: RETRY_FIRST_MS,
  };
  let map = null;
  let chosenLayer = null;
  let cellsLayer = null;
  let cellsKey = "";
  let basemapLoading = false;

  function newId() {
    // a random (version 4) UUID; crypto.randomUUID needs https, getRandomValues does not
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function text(key, values) {
    let out = (state.args.labels || {})[key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      out = out.split(`{${name}}`).join(String(value));
    }
    return out;
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (name === "onclick") node.addEventListener("click", value);
      else if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (value === true) node.setAttribute(name, "");
      else if (value !== false && value !== null && value !== undefined) {
        node.setAttribute(name, value);
      }
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  // --- point in polygon, on the phone (even-odd rule over every ring: holes included) ---
  function boxOf(geometry) {
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    for (const rings of polygons) {
      for (const [x, y] of rings[0]) {
        box[0] = Math.min(box[0], x);
        box[1] = Math.min(box[1], y);
        box[2] = Math.max(box[2], x);
        box[3] = Math.max(box[3], y);
      }
    }
    return box;
  }
  function inRings(rings, x, y) {
    let inside = false;
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
    return inside;
  }
  function districtAt(features, x, y) {
    for (const feature of features) {
      const box = feature.box || (feature.box = boxOf(feature.geometry));
      if (x < box[0] || x > box[2] || y < box[1] || y > box[3]) continue;
      const g = feature.geometry;
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      if (polygons.some((rings) => inRings(rings, x, y))) return feature.properties;
    }
    return null;
  }

  // The one place a point exists: it becomes a cell and a district, then goes out of scope.
  function choose(lat, lng) {
    const args = state.args;
    const cell = h3.latLngToCell(lat, lng, args.resolution);
    const exact = districtAt(args.placing.features, lng, lat);
    let name = exact ? exact.name : null;
    if (!exact) {
      // no outline sent holds the point: the server will take the cell centre's district;
      // the drawn outlines say whether the cell is in the area at all
      const [clat, clng] = h3.cellToLatLng(cell);
      const corners = [[clat, clng], ...h3.cellToBoundary(cell)];
      const inArea = corners.map(([a, b]) => districtAt(args.outlines.features, b, a));
      if (!districtAt(args.outlines.features, lng, lat) && !inArea.some(Boolean)) {
        return { problem: text("outside") };
      }
      name = inArea[0] ? inArea[0].name : null;
    }
    return { place: { cell: cell, district: exact ? exact.id : null, name: name } };
  }

  function take(result) {
    state.problem = result.problem || "";
    if (result.place) {
      state.place = result.place;
      state.note = null;
    }
    drawPlace();
    drawWhat();
  }

  // --- the map ---
  function makeMap(container) {
    const args = state.args;
    map = L.map(container, {
      zoomSnap: 0.5,
      attributionControl: false,
      gestureHandling: true,
      gestureHandlingOptions: {
        text: {
          touch: text("gesture_touch"),
          scroll: text("gesture_scroll"),
          scrollMac: text("gesture_scroll_mac"),
        },
        duration: 1500,
      },
    });
    window.map_visit = map; // named like folium's maps, so the app's tests find it the same way
    L.control.scale({ imperial: false }).addTo(map);
    L.geoJSON(args.outlines, {
      interactive: false,
      style: { color: "#4a4a4a", weight: 1.2, fillColor: "#ffffff", fillOpacity: 0.75 },
    }).addTo(map);
    const names = L.geoJSON(args.names, {
      pointToLayer: (feature, latlng) =>
        L.marker(latlng, {
          interactive: false,
          keyboard: false,
          icon: L.divIcon({
            className: `om-label om-z${feature.properties.zoom}`,
            html: el("span", { text: feature.properties.name }),
            iconSize: null,
          }),
        }),
    }).addTo(map);
    const labels = () => {
      const zoom = map.getZoom();
      names.eachLayer((marker) => {
        const node = marker.getElement();
        if (node) node.style.display = zoom >= marker.feature.properties.zoom ? "" : "none";
      });
    };
    map.on("zoomend", labels);
    const legend = L.control({ position: "bottomright" });
    legend.onAdd = () => {
      const div = L.DomUtil.create("div", "om-legend");
      div.innerHTML = args.legend; // built on the server from the locales, escaped there
      return div;
    };
    legend.addTo(map);
    const b = args.bounds;
    map.fitBounds(
      [
        [b[1], b[0]],
        [b[3], b[2]],
      ],
      { padding: [16, 16] },
    );
    labels();
    map.on("click", (event) => take(choose(event.latlng.lat, event.latlng.lng)));
    if (args.basemap_url) loadBasemap(args.basemap_url);
  }

  function drawCells() {
    const key = JSON.stringify(state.args.cells);
    if (key === cellsKey) return;
    cellsKey = key;
    if (cellsLayer) cellsLayer.remove();
    cellsLayer = L.geoJSON(state.args.cells, {
      style: (feature) => feature.properties.style,
      onEachFeature: (feature, layer) => {
        const tip = el("div", { className: "om-tip", text: feature.properties.tip });
        layer.bindTooltip(tip, { sticky: true });
      },
    }).addTo(map);
    if (chosenLayer) chosenLayer.bringToFront();
  }

  function loadBasemap(url) {
    if (basemapLoading) return;
    basemapLoading = true;
    const scripts = [
      "../../app/static/vendor/pmtiles-4.5.0/pmtiles.js",
      "../../app/static/vendor/protomaps-leaflet-5.1.0/protomaps-leaflet.js",
      "../../app/static/om/basemap.js",
    ];
    const next = () => {
      const src = scripts.shift();
      if (!src) {
        if (typeof window.omBasemap === "function") {
          // the streets' credit (OpenStreetMap's licence asks for it), without Leaflet's prefix
          L.control.attribution({ prefix: false }).addTo(map);
          window.omBasemap(map, url, isDark());
        }
        return;
      }
      const script = el("script", { src: src });
      script.onload = next;
      script.onerror = () => console.warn(`basemap: ${src} did not load`);
      document.head.append(script);
    };
    next();
  }

  function locate() {
    if (!window.isSecureContext || !navigator.geolocation) {
      take({ problem: text("locate_unsupported") });
      return;
    }
    state.problem = "";
    drawPlace(text("locating"));
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const result = choose(position.coords.latitude, position.coords.longitude);
        take(result);
        if (result.place) {
          map.fitBounds(L.latLngBounds(h3.cellToBoundary(result.place.cell)), { maxZoom: 16 });
        }
      },
      (error) => {
        const denied = error.code === error.PERMISSION_DENIED;
        take({ problem: text(denied ? "locate_denied" : "locate_unavailable") });
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 },
    );
  }

  // --- drawing the form ---
  function button(label, props, onclick) {
    return el("button", Object.assign({ type: "button", onclick: onclick }, props), [label]);
  }

  function drawTop() {
    const top = document.getElementById("top");
    const busy = Boolean(state.pending);
    top.replaceChildren(
      el("p", { className: "label", text: text("channel") }),
      el(
        "div",
        { className: "segments", role: "group", "aria-label": text("channel") },
        state.args.channels.map(([code, label]) =>
          button(
            label,
            { "aria-pressed": String(state.channel === code), disabled: busy },
            () => {
              state.channel = code;
              state.stage = "form";
              draw();
            },
          ),
        ),
      ),
    );
  }

  function drawPlace(waiting) {
    const where = document.getElementById("where");
    where.hidden = state.channel !== "in_person";
    document.getElementById("tap").textContent = text("tap");
    const locateButton = document.getElementById("locate");
    locateButton.textContent = text("locate");
    locateButton.disabled = Boolean(state.pending);
    const line = document.getElementById("place");
    line.className = "note";
    if (waiting) {
      line.textContent = waiting;
    } else if (state.problem) {
      line.textContent = state.problem;
      line.className = "note error";
    } else if (state.place) {
      line.textContent = state.place.name
        ? text("place", { district: state.place.name })
        : text("place_plain");
      line.className = "note ok";
    } else {
      line.textContent = "";
    }
    if (map) {
      if (chosenLayer) chosenLayer.remove();
      chosenLayer = null;
      if (state.place) {
        chosenLayer = L.polygon(h3.cellToBoundary(state.place.cell), {
          color: "#e8590c",
          weight: 4,
          fillColor: "#e8590c",
          fillOpacity: 0.35,
          interactive: false,
        }).addTo(map);
      }
    }
    fitFrame();
  }

  function supplyRows(busy) {
    const args = state.args;
    const max = args.max_per_visit;
    const kit = args.kit;
    const isKit = Object.keys(kit).every((k) => (state.supplies[k] || 0) === kit[k]);
    const rows = [
      button(
        text("kit"),
        { className: "kit", "aria-pressed": String(isKit), disabled: busy },
        () => {
          Object.assign(state.supplies, kit);
          drawWhat();
        },
      ),
    ];
    for (const [code, label] of args.supplies) {
      const count = state.supplies[code] || 0;
      const change = (by) => () => {
        state.supplies[code] = Math.min(max, Math.max(0, count + by));
        drawWhat();
      };
      rows.push(
        el("div", { className: "stepper" }, [
          el("span", { className: "name", id: `supply-${code}`, text: label }),
          button(
            "−",
            { "aria-label": text("less", { supply: label }), disabled: busy || count <= 0 },
            change(-1),
          ),
          el("output", { "aria-labelledby": `supply-${code}`, text: String(count) }),
          button(
            "+",
            { "aria-label": text("more", { supply: label }), disabled: busy || count >= max },
            change(1),
          ),
        ]),
      );
    }
    return rows;
  }

  function summary() {
    const handed = state.args.supplies
      .filter(([code]) => state.supplies[code])
      .map(([code, label]) => `${state.supplies[code]} ${label}`)
      .join(", ");
    return text("confirm", { supplies: handed || text("none"), referrals: state.referrals.size });
  }

  function drawWhat() {
    const args = state.args;
    const what = document.getElementById("what");
    const busy = Boolean(state.pending);
    const parts = [el("p", { className: "label", text: text("supplies") }), ...supplyRows(busy)];
    parts.push(
      el("p", { className: "label", text: text("referrals") }),
      el(
        "div",
        { className: "chips" },
        args.referrals.map(([code, label]) =>
          button(
            label,
            { "aria-pressed": String(state.referrals.has(code)), disabled: busy },
            () => {
              if (state.referrals.has(code)) state.referrals.delete(code);
              else state.referrals.add(code);
              drawWhat();
            },
          ),
        ),
      ),
    );
    const code = el("input", {
      id: "code",
      type: "text",
      maxlength: "32",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      disabled: busy,
      "aria-describedby": "code-help",
    });
    code.value = state.code;
    code.addEventListener("input", () => {
      state.code = code.value;
    });
    parts.push(
      el("label", { className: "label", for: "code", text: text("code") }),
      code,
      el("p", { className: "help", id: "code-help", text: text("code_help") }),
    );
    if (state.stage === "confirm" && !busy) {
      parts.push(
        el("div", { className: "confirm", role: "group" }, [
          el("p", { text: summary() }),
          el("div", { className: "pair" }, [
            button(text("save"), { className: "primary" }, send),
            button(text("back"), {}, () => {
              state.stage = "form";
              drawWhat();
            }),
          ]),
        ]),
      );
    } else {
      parts.push(
        button(
          text("review"),
          { className: "primary", disabled: busy || !args.ready },
          review,
        ),
      );
    }
    if (!args.ready) parts.push(el("p", { className: "note error", text: text("choose_me") }));
    if (state.note) {
      parts.push(
        el("p", { className: `note ${state.note.kind}`, role: "status", text: state.note.text }),
      );
    }
    what.replaceChildren(...parts);
    fitFrame();
  }

  function draw() {
    drawTop();
    drawPlace();
    drawWhat();
    if (map && state.channel === "in_person") map.invalidateSize();
  }

  // --- saving: review, confirm, send until the server acknowledges ---
  function review() {
    if (state.channel === "in_person" && !state.place) {
      state.note = { kind: "error", text: text("no_place") };
    } else {
      state.note = null;
      state.stage = "confirm";
    }
    drawWhat();
  }

  function send() {
    const inPerson = state.channel === "in_person";
    state.pending = {
      since: Date.now(),
      form: {
        submission_id: state.id,
        channel: state.channel,
        cell: inPerson ? state.place.cell : null,
        district_id: inPerson ? state.place.district : null,
        supplies: Object.assign({}, state.supplies),
        referrals: Array.from(state.referrals),
        contact_code: state.code.trim(),
      },
    };
    state.stage = "form";
    state.note = { kind: "wait", text: text("sending") };
    state.retryMs = RETRY_FIRST_MS;
    deliver();
    draw();
  }

  function deliver() {
    if (!state.pending) return;
    clearTimeout(state.retry);
    state.seq += 1;
    // whole seconds: the visit is dated back by them, and they can never look like a coordinate
    const waited = Math.max(0, Math.round((Date.now() - state.pending.since) / 1000));
    sendValue(Object.assign({ seq: state.seq, waited_seconds: waited }, state.pending.form));
    state.retry = setTimeout(() => {
      // no answer yet: the signal (or the server) is away; say so, keep everything, try again
      state.note = { kind: "wait", text: text("pending") };
      state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
      drawWhat();
      deliver();
    }, state.retryMs);
  }

  function acknowledge(ack) {
    const pending = state.pending;
    if (!pending || !ack || ack.submission_id !== pending.form.submission_id) return;
    clearTimeout(state.retry);
    state.pending = null;
    if (ack.status === "refused") {
      state.note = { kind: "error", text: ack.message }; // the server's message; all is kept
      return;
    }
    state.note = { kind: "ok", text: ack.message };
    state.id = newId();
    state.place = null;
    state.problem = "";
    state.supplies = {};
    state.referrals = new Set();
    state.code = "";
  }

  // --- each render from the server: new arguments (and perhaps an acknowledgement) ---
  function isDark() {
    const theme = state.theme;
    if (theme && theme.base) return theme.base === "dark";
    return window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function render(args, theme) {
    const first = state.args === null;
    state.args = args;
    state.theme = theme;
    document.body.classList.toggle("dark", isDark());
    const colours = {
      "--primary": "primaryColor",
      "--ground": "backgroundColor",
      "--soft": "secondaryBackgroundColor",
      "--text": "textColor",
    };
    for (const [name, field] of Object.entries(colours)) {
      if (theme && theme[field]) document.body.style.setProperty(name, theme[field]);
    }
    if (first) {
      const root = document.getElementById("visit");
      const mapBox = el("div", { id: "map", role: "application", "aria-label": text("tap") });
      root.replaceChildren(
        el("div", { id: "top" }),
        el("section", { id: "where" }, [
          el("p", { className: "label", id: "tap" }),
          button("", { id: "locate", className: "locate" }, locate),
          mapBox,
          el("p", { id: "place", className: "note", role: "status" }),
        ]),
        el("div", { id: "what" }),
      );
      for (const [code] of args.supplies) state.supplies[code] = 0;
      makeMap(mapBox);
      window.addEventListener("online", () => {
        // the phone says the network is back: send now, and soon again while the app reconnects
        state.retryMs = RETRY_FIRST_MS;
        if (state.pending) deliver();
      });
      new ResizeObserver(fitFrame).observe(document.body);
    }
    drawCells();
    acknowledge(args.acknowledged);
    draw();
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const data = event.data || {};
    if (data.type === "streamlit:render") render(data.args || {}, data.theme);
  });
  post("streamlit:componentReady", { apiVersion: 1 });
})();
