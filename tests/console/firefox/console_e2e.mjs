// The console as a new user meets it, in Debian's Firefox ESR driven over WebDriver BiDi
// (puppeteer-core; no browser is downloaded). Run by tests/console/test_console_firefox.py:
//   node console_e2e.mjs   with CONSOLE_URL, CONSOLE_KEY, CONSOLE_DATA (.npy), FIREFOX, SHOTS
// Sign in (a wrong key refused), upload, submit a fit and watch its plot grow, see the atoms,
// encode two rows on the model. Exits 1 naming the step that failed; prints "ok" at the end.
import puppeteer from 'puppeteer-core';

const { CONSOLE_URL, CONSOLE_KEY, CONSOLE_DATA, FIREFOX, SHOTS } = process.env;
const WAIT = { timeout: 60_000 };
let step = 'launch';
let current = null; // the page, for a screenshot of a failure

const byText = (tag, text) => `xpath/.//${tag}[contains(., "${text}")]`;

async function clickText(page, tag, text) {
  const [element] = await page.$$(byText(tag, text));
  if (!element) throw new Error(`no ${tag} "${text}"`);
  await element.click();
}

async function points(page, id) {
  return page.$eval(id, (svg) => Number(svg.dataset.points || 0));
}

async function waitForPoints(page, id, more) {
  await page.waitForFunction(
    (selector, n) => Number(document.querySelector(selector)?.dataset.points || 0) > n,
    WAIT, id, more,
  );
}

async function run() {
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: FIREFOX, headless: true, protocol: 'webDriverBiDi',
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    current = page;
    await page.setViewport({ width: 1280, height: 900 });
    page.on('pageerror', (error) => errors.push(String(error)));
    const shot = (name) => page.screenshot({ path: `${SHOTS}/firefox-${name}.png`, fullPage: true });

    step = 'sign in';
    await page.goto(`${CONSOLE_URL}/`);
    await page.waitForSelector('#api-key', WAIT);
    await page.type('#api-key', 'not-a-key');
    await clickText(page, 'button', 'Sign in');
    await page.waitForSelector(byText('*[@id="signin-error"]', 'refused'), WAIT);
    await page.$eval('#api-key', (input) => { input.value = ''; });
    await page.type('#api-key', CONSOLE_KEY);
    await clickText(page, 'button', 'Sign in');
    await page.waitForSelector(byText('h1', 'Datasets'), WAIT);

    step = 'upload';
    const file = await page.waitForSelector('#dataset-file', WAIT);
    await file.uploadFile(CONSOLE_DATA);
    await page.type('#dataset-name', 'patches');
    await clickText(page, 'button', 'Upload');
    await page.waitForSelector(byText('*[@id="datasets"]//td', '20000 × 32'), WAIT);
    await shot('datasets');

    step = 'submit';
    await page.goto(`${CONSOLE_URL}/console#/jobs`);
    await page.waitForSelector('#job-k', WAIT);
    await page.$eval('#job-k', (input) => { input.value = ''; });
    await page.type('#job-k', '16');
    await page.select('#job-mode', 'batch');
    await page.$eval('#job-max-iter', (input) => { input.value = ''; });
    await page.type('#job-max-iter', '100000');
    await page.$eval('#job-time-limit', (input) => { input.value = ''; });
    await page.type('#job-time-limit', '8');
    await page.click('form.grid button[type=submit]');
    await page.waitForFunction(() => /#\/jobs\/job_/.test(location.hash), WAIT);

    step = 'watch the plot grow';
    await waitForPoints(page, '#objective-chart', 1);
    const first = await points(page, '#objective-chart');
    await waitForPoints(page, '#objective-chart', first);
    await shot('job-running');

    step = 'the job ends with its atoms';
    await page.waitForSelector('#job-facts .state-succeeded', WAIT);
    await page.waitForSelector('#atoms img.atoms', WAIT);
    const width = await page.$eval('#atoms img.atoms', (img) => img.complete && img.naturalWidth);
    if (!(width > 0)) throw new Error('the atoms image did not load');
    if (!((await points(page, '#gap-chart')) > 0)) throw new Error('no duality-gap points');
    await shot('job-done');

    step = 'encode on the model';
    await clickText(page, 'a', 'Models');
    await page.waitForSelector('#models tbody tr a', WAIT);
    await page.click('#models tbody tr a');
    await page.waitForSelector('#encode-rows', WAIT);
    const row = Array.from({ length: 32 }, (_, i) => (i % 5 === 0 ? '1.0' : '0.0')).join(' ');
    await page.type('#encode-rows', `${row}\n${row}`);
    await clickText(page, 'button', 'Encode');
    await page.waitForSelector('#codes tbody tr:nth-child(2)', WAIT);
    const columns = await page.$$eval('#codes thead th', (cells) => cells.length);
    if (columns !== 1 + 16) throw new Error(`codes table has ${columns} columns, not 17`);
    await shot('model');
  } catch (error) {
    await current?.screenshot({ path: `${SHOTS}/firefox-failure.png`, fullPage: true });
    throw error;
  } finally {
    await browser.close();
  }
  if (errors.length) throw new Error(`the page raised: ${errors.join('; ')}`);
}

try {
  await run();
  console.log('ok');
} catch (error) {
  console.error(`firefox console test failed at "${step}": ${error.stack || error}`);
  process.exit(1);
}
