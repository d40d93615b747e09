// What the browser checks (tests/console/check.mjs, tests/messenger/check.mjs) share:
// named checks counted as they pass or fail, figures printed at the end, polling with a
// deadline instead of sleeping, and the "N passed, M failed" line their run scripts read.

/** How long a check waits for something to happen in the page. */
export const WAIT = 15_000;

let passed = 0;
let failed = 0;
/** What a failed check prints after its error: see `onFailure`. */
let describe = null;
/** Measured figures, printed (`figure: …`) by `printFigures`. */
export const figures = [];

/** Runs one named check; a throw fails it, and the next one runs all the same. */
export async function test(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok     ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAILED ${name}\n       ${String(error.stack ?? error).split('\n').slice(0, 6).join('\n       ')}`);
    if (describe) {
      try {
        for (const line of await describe()) console.log(`       ${line}`);
      } catch (cause) {
        console.log(`       (the page could not be described: ${cause?.message ?? cause})`);
      }
    }
  }
}

/**
 * Sets what a failed check prints after its error: `lines` returns lines on the state of
 * the page then (what it last said aloud, its socket, the API's refusals), so a failure
 * on a CI machine can be read without running it again.
 */
export function onFailure(lines) {
  describe = lines;
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Polls `probe` until it returns a truthy value, or fails after WAIT. */
export async function until(what, probe) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A tab in a context of its own, for attachment links that expire: its clock can be moved
 * on (`tab.clock.fastForward`), the query of each read of a page of messages whose path
 * ends with `messagesPath` is noted in `reads`, and the first PNG loaded from `/files` is
 * refused (403, counted in `refused.pictures`), as an expired link's would be.
 * `problems` collects its page errors. Close `context` when done.
 */
export async function linksTab(browser, messagesPath, problems) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.clock.install();
  const tab = await context.newPage();
  tab.on('pageerror', (error) => problems.push(`page error (links tab): ${error.message}`));
  const reads = [];
  tab.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith(messagesPath)) reads.push(url.search);
  });
  const refused = { pictures: 0 };
  await tab.route((url) => url.pathname === '/files' && url.searchParams.get('type') === 'image/png', (route) => {
    if (refused.pictures > 0) return route.continue();
    refused.pictures += 1;
    return route.fulfill({ status: 403, body: 'Request has expired' });
  });
  return { context, tab, reads, refused };
}

export function printFigures() {
  for (const figure of figures) console.log(`figure: ${figure}`);
}

/** Prints the counts, last, and exits with 1 if any check failed. */
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
