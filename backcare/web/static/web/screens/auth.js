// Sign in and sign up. The login answer sets the session cookie the rest of the app uses.
import { api } from "../api.js";
import { errorBox, field, h, showError } from "../ui.js";

function form(root, { title, intro, fields, submitLabel, onSubmit, footer }) {
  const error = errorBox();
  const button = h("button", { type: "submit", class: "btn primary block" }, submitLabel);
  const el = h("form", { class: "card stack", novalidate: true }, fields, error, button);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    button.disabled = true;
    try {
      await onSubmit(new FormData(el));
    } catch (e) {
      showError(error, e.message);
    } finally {
      button.disabled = false;
    }
  });
  root.append(h("h1", {}, title), h("p", { class: "lead" }, intro), el, footer);
}

async function login(email, password, ctx) {
  const answer = await api("/api/auth/login/", { method: "POST", body: { email, password } });
  await ctx.signedIn(answer.user);
}

export async function signin(root, _params, ctx) {
  form(root, {
    title: "Sign in",
    intro: "Your back-spasm plan, check-ins and timers, on this phone.",
    fields: [
      field("Email", h("input", { name: "email", type: "email", autocomplete: "username", required: true })),
      field(
        "Password",
        h("input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      ),
    ],
    submitLabel: "Sign in",
    onSubmit: (data) => login(data.get("email"), data.get("password"), ctx),
    footer: h("p", { class: "center" }, "New here? ", h("a", { href: "#/signup" }, "Create an account")),
  });
}

export async function signup(root, _params, ctx) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  form(root, {
    title: "Create your account",
    intro: "It takes a minute. Your time zone is set from this phone so reminders come at the right hours.",
    fields: [
      field("Your name (optional)", h("input", { name: "display_name", autocomplete: "given-name", maxlength: 80 })),
      field("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true })),
      field(
        "Password",
        h("input", { name: "password", type: "password", autocomplete: "new-password", required: true }),
        "At least 8 characters, not only digits, not a common password.",
      ),
      h("p", { class: "hint" }, `Time zone: ${zone}`),
    ],
    submitLabel: "Create account",
    onSubmit: async (data) => {
      const body = {
        email: data.get("email"),
        password: data.get("password"),
        display_name: data.get("display_name") || "",
        timezone: zone,
      };
      await api("/api/auth/register/", { method: "POST", body });
      await login(body.email, body.password, ctx);
    },
    footer: h("p", { class: "center" }, "Already have an account? ", h("a", { href: "#/signin" }, "Sign in")),
  });
}
