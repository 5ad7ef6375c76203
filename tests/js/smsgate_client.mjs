// SMS Gate's npm client (android-sms-gateway 3.0.0), unmodified, against our server: the calls
// a user of it makes. Prints one JSON object of what it got back (the test reads it).
// usage: node smsgate_client.mjs BASE_URL LOGIN PASSWORD PHONE_NUMBER
import Client from "android-sms-gateway"; // its default export

const [baseUrl, login, password, phoneNumber] = process.argv.slice(2);

// The library leaves HTTP to its caller: this one is fetch, answering parsed JSON or throwing.
const http = {
  async request(method, url, body, headers) {
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) {
      const error = new Error(`${response.status} ${text}`);
      error.status = response.status;
      throw error;
    }
    return text ? JSON.parse(text) : undefined;
  },
  get(url, headers) { return this.request("GET", url, undefined, headers); },
  post(url, body, headers) { return this.request("POST", url, body, headers); },
  put(url, body, headers) { return this.request("PUT", url, body, headers); },
  patch(url, body, headers) { return this.request("PATCH", url, body, headers); },
  delete(url, headers) { return this.request("DELETE", url, undefined, headers); },
};

const client = new Client(login, password, http, baseUrl);
const result = {};
const sent = await client.send({ phoneNumbers: [phoneNumber], message: "from the npm client" });
result.sent = sent;
result.state = await client.getState(sent.id);
result.devices = await client.getDevices();
result.health = await client.getHealth();
try {
  await new Client(login, "wrong", http, baseUrl).getState(sent.id);
  result.wrongPassword = "accepted";
} catch (error) {
  result.wrongPassword = error.status;
}
console.log(JSON.stringify(result));
