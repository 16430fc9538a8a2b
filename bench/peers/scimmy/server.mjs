// A minimal in-memory store behind SCIMMY's resource handlers and its
// Express routers: the smallest SCIM server that the SCIMMY packages make,
// for bench/peers. Records live in Maps keyed by id, with an index of
// userName (compared case-insensitively, as SCIM's userName is caseExact
// false) so that `userName eq` is one lookup, as a database index would make
// it. Every other filter is evaluated over all records by SCIMMY's Filter.
//
// Usage: PEER_TOKEN=secret node server.mjs 127.0.0.1 8082
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const [host = "127.0.0.1", port = "8082"] = process.argv.slice(2);
const token = process.env.PEER_TOKEN ?? "";
if (!token) {
    console.error("server.mjs: set PEER_TOKEN");
    process.exit(2);
}

// store keeps plain copies of the resources of one type, as a database would.
class Store {
    constructor(type, uniqueAttr) {
        this.type = type;
        this.uniqueAttr = uniqueAttr; // indexed, unique, compared case-insensitively
        this.byID = new Map();
        this.byKey = new Map();
    }

    // egress answers reads: one id, one indexed equality, or any filter.
    egress(resource) {
        if (resource.id) {
            const r = this.byID.get(resource.id);
            if (!r) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return r;
        }
        const f = resource.filter;
        if (!f) return [...this.byID.values()];
        const eq = f.length === 1 && Object.keys(f[0]).length === 1 && f[0][this.uniqueAttr];
        if (Array.isArray(eq) && eq.length === 2 && String(eq[0]).toLowerCase() === "eq" && typeof eq[1] === "string") {
            const id = this.byKey.get(eq[1].toLowerCase());
            return id ? [this.byID.get(id)] : [];
        }
        return f.match([...this.byID.values()]);
    }

    // ingress creates (no id) or replaces (id) a resource.
    ingress(resource, instance) {
        const now = new Date().toISOString();
        const value = JSON.parse(JSON.stringify(instance));
        const key = String(value[this.uniqueAttr] ?? "").toLowerCase();
        const owner = this.byKey.get(key);
        if (owner !== undefined && owner !== resource.id) {
            throw new SCIMMY.Types.Error(409, "uniqueness", `${this.uniqueAttr} is already taken`);
        }
        let old;
        if (resource.id) {
            old = this.byID.get(resource.id);
            if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            this.byKey.delete(String(old[this.uniqueAttr] ?? "").toLowerCase());
        }
        const id = resource.id ?? randomUUID();
        const stored = {...value, id, meta: {resourceType: this.type, created: old?.meta.created ?? now, lastModified: now}};
        this.byID.set(id, stored);
        this.byKey.set(key, id);
        return stored;
    }

    degress(resource) {
        const old = this.byID.get(resource.id);
        if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        this.byID.delete(resource.id);
        this.byKey.delete(String(old[this.uniqueAttr] ?? "").toLowerCase());
    }
}

for (const [Resource, store] of [
    [SCIMMY.Resources.User, new Store("User", "userName")],
    [SCIMMY.Resources.Group, new Store("Group", "displayName")],
]) {
    SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => store.ingress(resource, instance))
        .egress((resource) => store.egress(resource))
        .degress((resource) => store.degress(resource));
}

const app = express();
app.disable("x-powered-by");
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization failure");
        return "bench";
    },
}));
const server = app.listen(Number(port), host, () => {
    console.log(`scimmy: listening on http://${host}:${port}/scim/v2`);
});
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => server.close(() => process.exit(0)));
}
