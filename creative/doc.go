// Package creative resolves a winning bid's markup into the creative bytes
// the Adshares page can show, and checks them against the slot.
//
// The page fetches a banner's serve_url as a blob and shows it as an <img>
// or a <video> (BROWSER.md): it can show image bytes and mp4/webm files, not
// a DSP's HTML (external assets and scripts are blocked in its sandbox,
// pixels inside markup never fire) and not a VAST document. So the bridge
// reads the markup itself:
//
//   - image markup (imagemarkup.go): an <img> inside an optional <a href>,
//     plus optional 1×1 or hidden tracking pixels, in layout elements only.
//     Scripts, iframes, objects, MRAID, event handlers, javascript: URLs,
//     resource-loading styles, visible text and several non-pixel images are
//     refused: the page would lose or block them.
//   - VAST 2.0-4.x (vast.go, vastchain.go): inline, or wrappers followed up
//     to a small depth; a progressive mp4/webm MediaFile of the slot's mime
//     closest to the slot's size, and the trackers of the whole chain.
//     VPAID-, streaming- or other-type-only VAST is refused.
//   - the nurl body (the Adshares OpenRTB profile), when the bid has no
//     markup.
//
// Everything else is unrenderable_markup. The bytes are fetched server-side
// through an injected Fetcher (the bridge's strict outbound client), capped
// in size and by the auction's deadline, and their header decoded (PNG,
// JPEG, GIF, WebP; mp4 and WebM signatures): the type must be the slot's
// inventory mime and an image's size the slot's, since the page shows the
// bytes as they are. Refusals are *Error values with a typed Reason the
// auction rejects the bid with and counts.
//
// Resolved bytes are cached (cache.go) by URL and stored once by content
// hash, within an entry and a byte cap; concurrent resolutions of one URL
// share one fetch, and a first fetch that outlives its auction finishes in
// the background so the next auction finds it cached (flight.go).
package creative
