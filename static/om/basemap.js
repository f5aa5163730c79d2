/*
 * outreach-map: draw an offline PMTiles basemap on a Leaflet map (docs/basemap.md).
 *
 * window.omBasemap(map, url, dark[, options]) reads the file's header with the vendored
 * pmtiles.js, then adds, below every layer of the app (Leaflet's tile pane):
 *   - vector tiles (Protomaps basemap schema): protomaps-leaflet, "light" or "dark" flavour,
 *     place and street names in the page's language where the file has them;
 *   - raster tiles (PNG, JPEG, WebP, AVIF): pmtiles.leafletRasterLayer, scaled up past the
 *     file's last zoom level, inverted (hues kept) when `dark`.
 * Every byte comes from `url` (the app's own /api/basemap.pmtiles): no other server is asked.
 * It resolves to the layer, or to null when the file cannot be read (the map stays as it was).
 * options.attribution (text) replaces the credit line the file gives.
 */
(function () {
  "use strict";

  var OSM = '\u00a9 <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>';

  // The text of an attribution written as HTML in the file's metadata: parsed inertly
  // (DOMParser runs no script and loads no image), tags dropped, then escaped.
  function plainText(html) {
    var text = new DOMParser().parseFromString(String(html), "text/html").body.textContent || "";
    return escapeHtml(text.trim());
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function language() {
    var lang = (document.documentElement.lang || navigator.language || "en").slice(0, 2);
    return /^[a-z]{2}$/i.test(lang) ? lang.toLowerCase() : "en";
  }

  window.omBasemap = function (map, url, dark, options) {
    options = options || {};
    var archive = new pmtiles.PMTiles(url);
    return Promise.all([
      archive.getHeader(),
      archive.getMetadata().catch(function () { return {}; }),
    ]).then(function (read) {
      var header = read[0];
      var metadata = read[1] || {};
      var vector = header.tileType === pmtiles.TileType.Mvt;
      var credit = options.attribution
        ? escapeHtml(options.attribution)
        : vector
          ? OSM
          : metadata.attribution ? plainText(metadata.attribution) : "";
      var common = {
        attribution: credit,
        // no tile is asked for outside the file's bounds
        bounds: L.latLngBounds([header.minLat, header.minLon], [header.maxLat, header.maxLon]),
        minZoom: map.getMinZoom(),
        maxZoom: map.getMaxZoom(),
        className: "om-basemap-tiles",
      };
      var layer;
      if (vector) {
        layer = protomapsL.leafletLayer(Object.assign({
          url: archive,
          flavor: dark ? "dark" : "light",
          lang: language(),
          // past the file's last zoom level its tiles are drawn larger, not asked for
          maxDataZoom: header.maxZoom,
        }, common));
      } else {
        layer = pmtiles.leafletRasterLayer(archive, Object.assign({
          minNativeZoom: header.minZoom,
          maxNativeZoom: header.maxZoom,
        }, common));
      }
      layer.addTo(map);
      layer.bringToBack();
      if (dark && !vector) {
        // raster tiles have one look: at night, light ground turns dark and colours keep their hue
        layer.getContainer().style.filter = "invert(1) hue-rotate(180deg) brightness(0.9)";
      }
      // the app's styles make area fills lighter over streets (mapping/maps/base.py)
      L.DomUtil.addClass(map.getContainer(), "om-basemap");
      map.omBasemapLayer = layer;
      return layer;
    }).catch(function (error) {
      console.warn("outreach-map: no basemap from " + url + ": " + error);
      return null;
    });
  };
})();
