// Runs once in the test runner's main process, before and after every test file.
export function globalSetup(): void {}
export function globalTeardown(): void {}
