"use client";

import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";

import { ApiError, api } from "@/lib/api";

type Mode = "signin" | "register";

interface Props {
  /** Called after a successful sign-in; by default loads the chat page. */
  onSignedIn?: () => void;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export default function LoginForm({ onSignedIn }: Props) {
  const router = useRouter();
  const [mode, setMode] = useState<Mode>("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const id = useId();

  function validate(): Record<string, string> {
    const errors: Record<string, string> = {};
    if (!email.trim()) errors.email = "Enter your email address.";
    else if (!EMAIL.test(email.trim())) errors.email = "Enter an email address such as ada@example.com.";
    if (!password) errors.password = "Enter your password.";
    else if (mode === "register" && password.length < 8) errors.password = "Use at least 8 characters.";
    return errors;
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFormError(null);
    const errors = validate();
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) return;
    setBusy(true);
    try {
      if (mode === "register") {
        try {
          await api.register(email.trim(), password, name.trim() || undefined);
        } catch (exc) {
          if (exc instanceof ApiError && exc.status === 409) {
            setFieldErrors({ email: "An account with this email already exists. Sign in instead." });
            return;
          }
          throw exc;
        }
      }
      try {
        await api.login(email.trim(), password);
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 401) {
          setFormError("Wrong email or password.");
          return;
        }
        throw exc;
      }
      if (onSignedIn) onSignedIn();
      else {
        router.replace("/");
        router.refresh();
      }
    } catch (exc) {
      if (exc instanceof ApiError) {
        setFieldErrors(exc.fieldErrors);
        setFormError(exc.message);
      } else {
        setFormError("Something went wrong. Please try again.");
      }
    } finally {
      setBusy(false);
    }
  }

  function switchMode(next: Mode) {
    setMode(next);
    setFieldErrors({});
    setFormError(null);
  }

  const field = (key: string) => ({
    id: `${id}-${key}`,
    "aria-invalid": fieldErrors[key] ? true : undefined,
    "aria-describedby": fieldErrors[key] ? `${id}-${key}-error` : undefined,
  });
  const fieldError = (key: string) =>
    fieldErrors[key] ? (
      <p className="field-error" id={`${id}-${key}-error`}>
        {fieldErrors[key]}
      </p>
    ) : null;

  const title = mode === "signin" ? "Sign in" : "Create an account";
  return (
    <form className="card auth-form" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h1 id={`${id}-title`}>{title}</h1>
      <p className="muted">
        {mode === "signin"
          ? "Sign in to manage your tasks by chatting with the assistant."
          : "Register with your email address and a password of at least 8 characters."}
      </p>

      {formError ? (
        <div className="alert" role="alert">
          {formError}
        </div>
      ) : null}

      {mode === "register" ? (
        <div className="field">
          <label htmlFor={`${id}-name`}>Name (optional)</label>
          <input {...field("name")} name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
          {fieldError("name")}
        </div>
      ) : null}

      <div className="field">
        <label htmlFor={`${id}-email`}>Email</label>
        <input
          {...field("email")}
          name="email"
          type="email"
          autoComplete="email"
          inputMode="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        {fieldError("email")}
      </div>

      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          {...field("password")}
          name="password"
          type="password"
          autoComplete={mode === "signin" ? "current-password" : "new-password"}
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {fieldError("password")}
      </div>

      <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
        {busy ? (mode === "signin" ? "Signing in…" : "Creating account…") : mode === "signin" ? "Sign in" : "Create account"}
      </button>

      <p className="switch">
        {mode === "signin" ? (
          <>
            New here?{" "}
            <button type="button" className="link" onClick={() => switchMode("register")}>
              Create an account
            </button>
          </>
        ) : (
          <>
            Already registered?{" "}
            <button type="button" className="link" onClick={() => switchMode("signin")}>
              Sign in instead
            </button>
          </>
        )}
      </p>
    </form>
  );
}
