/**
 * The benchmark data set and request bodies, shared by the bare baseline, the harness and the
 * load generator so that both targets hold the same logical rows and receive the same requests.
 * Deterministic: a fixed-seed PRNG, so every run (and every target) sees identical data.
 */

/** One `posts` row as the harness sends it (`updated` is set by the server at insertion). */
export interface PostInput {
  id: string;
  title: string;
  body: string;
  views: number;
  published: boolean;
  /** Spread over a year, identical in both targets (the list scenario sorts by it). */
  created: string;
}

/** Start of the `created` spread. */
const CREATED_FROM = Date.UTC(2025, 0, 1);
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** A timestamp in Basalt's format `2025-01-02 03:04:05.678Z`. */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ');
}

/** Number of posts seeded into each target. */
export const SEED_COUNT = 10_000;

/** The fixed seed; change it and every figure stops being comparable with older results. */
export const SEED = 0x5eed_ba5a;

/** The list scenario's query, exactly as a client would send it. */
export const LIST_FILTER = 'published = true && views > 100';
export const LIST_SORT = '-created';
export const LIST_PER_PAGE = 20;

/** Path of the list scenario (identical for both targets). */
export const LIST_PATH =
  `/api/collections/posts/records?filter=${encodeURIComponent(LIST_FILTER)}` +
  `&sort=${encodeURIComponent(LIST_SORT)}&perPage=${LIST_PER_PAGE}&skipTotal=1`;

/** Mulberry32: a tiny, fast, well-distributed 32-bit PRNG; good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua basalt granite quartz feldspar magma lava crust mantle core tectonic plate ' +
  'shard cluster replica query index record field collection realtime function storage backup'
).split(' ');

function idFrom(rand: () => number): string {
  let s = '';
  for (let i = 0; i < 15; i++) s += ID_ALPHABET[Math.floor(rand() * ID_ALPHABET.length)];
  return s;
}

function words(rand: () => number, minChars: number): string {
  const out: string[] = [];
  let len = 0;
  while (len < minChars) {
    const w = WORDS[Math.floor(rand() * WORDS.length)];
    out.push(w);
    len += w.length + 1;
  }
  const s = out.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One post's fields, drawn from `rand`. */
function randomPost(rand: () => number): Omit<PostInput, 'id'> {
  return {
    title: words(rand, 30),
    body: words(rand, 200),
    views: Math.floor(rand() * 1001),
    published: rand() < 0.5,
    created: stamp(CREATED_FROM + Math.floor(rand() * YEAR_MS)),
  };
}

/** The 10,000 seed posts (ids are 15-char [a-z0-9], PocketBase style). */
export function seedPosts(count: number = SEED_COUNT, seed: number = SEED): PostInput[] {
  const rand = prng(seed);
  const seen = new Set<string>();
  const posts: PostInput[] = [];
  while (posts.length < count) {
    const id = idFrom(rand);
    if (seen.has(id)) continue;
    seen.add(id);
    posts.push({ id, ...randomPost(rand) });
  }
  return posts;
}

/** How many seed posts match the list filter (used to check both targets hold the same rows). */
export function expectedListMatches(posts: readonly PostInput[]): number {
  return posts.filter((p) => p.published && p.views > 100).length;
}

/** Request bodies for the create scenario (no id: the server assigns one). */
export function createBodies(count: number, seed: number = SEED + 1): string[] {
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(JSON.stringify(randomPost(rand)));
  }
  return out;
}
