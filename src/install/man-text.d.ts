// Bun imports the manual pages' sources as text (man-pages.ts).
declare module "*.1" {
  const text: string;
  export default text;
}
declare module "*.8" {
  const text: string;
  export default text;
}
