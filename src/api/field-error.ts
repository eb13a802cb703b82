/** One problem with a KasprApp: the field path (e.g. `spec.pythonPackages.packages[2]`) and the reason. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export const formatFieldError = (error: FieldError): string => `${error.path}: ${error.message}`;
