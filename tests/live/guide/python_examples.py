# The integration guide's Python examples, verbatim except for the indentation that the
# guide's Markdown lost. The test substitutes the server URL and the API key, then runs this
# file as a client would, followed by the calls in tests/live/test_guide_examples.py.
import requests

def send_sms(phone_number, message):
    url = "http://your-server:3005/api/v1/sms/send"
    headers = {
        "Authorization": "Bearer api_live_your_key_here",
        "Content-Type": "application/json"
    }
    data = {
        "to": phone_number,
        "message": message
    }

    response = requests.post(url, json=data, headers=headers)

    if response.status_code == 202:
        result = response.json()
        print(f"SMS sent! Message ID: {result['message_id']}")
        return result['message_id']
    else:
        print(f"Failed: {response.json()}")
        raise Exception(response.json().get('error', 'Unknown error'))

def send_otp(phone_number):
    url = "http://your-server:3005/api/v1/otp/send"
    headers = {
        "Authorization": "Bearer api_live_your_key_here",
        "Content-Type": "application/json"
    }
    data = {
        "phone_number": phone_number
    }

    response = requests.post(url, json=data, headers=headers)

    if response.status_code == 200:
        result = response.json()
        print(f"OTP sent! Expires in {result['expires_in']} seconds")
        return True
    else:
        print(f"Failed: {response.json()}")
        raise Exception(response.json().get('error', 'Unknown error'))

def verify_otp(phone_number, code):
    url = "http://your-server:3005/api/v1/otp/verify"
    headers = {
        "Authorization": "Bearer api_live_your_key_here",
        "Content-Type": "application/json"
    }
    data = {
        "phone_number": phone_number,
        "code": code
    }

    response = requests.post(url, json=data, headers=headers)

    if response.status_code == 200:
        print("OTP verified successfully!")
        return True
    else:
        print(f"Verification failed: {response.json()}")
        return False
